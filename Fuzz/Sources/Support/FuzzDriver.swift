import CFuzzerDriver

/// Starts libFuzzer with `test` as the function it fuzzes. SwiftPM links an
/// executable with `main` renamed to `MODULE_main`, so libFuzzer's own `main`
/// is never used: each target defines `MODULE_main` and calls this.
public enum FuzzDriver {
    public static func run(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                           _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv, test)
    }
}
