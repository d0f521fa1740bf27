@testable import EddyCore
import Foundation
import Testing

/// The two shapes of a stderr line: plain for people, JSON for log shippers.
@Suite struct LogLineTests {
    @Test func plainLinesKeepTheirShapes() {
        let fields = [LogField("batch", "1000"), LogField("records", "2")]
        #expect(EddyLog.plainLine(.info, "", fields: fields, shape: .labelled) == "eddy: batch=1000 records=2\n")
        #expect(EddyLog.plainLine(.warning, "disk full", fields: [], shape: .labelled) == "eddy: warning: disk full\n")
        #expect(EddyLog.plainLine(.error, "--format xml: bad", fields: [], shape: .unlabelled) == "eddy: --format xml: bad\n")
        #expect(EddyLog.plainLine(.error, "job.sql:1:2: bad", fields: [], shape: .bare) == "job.sql:1:2: bad\n")
    }

    /// Whatever a message holds (quotes, newlines, control bytes, non-ASCII),
    /// the line parses back to it; figures are numbers, anything else a string.
    @Test func jsonLinesParseBackToWhatWasLogged() throws {
        let message = "a \"quoted\" \\ path\nsecond line\t\u{01} é ✓"
        let line = EddyLog.jsonLine(.warning, message, fields: [
            LogField("batch", "1795321270000"), LogField("processing_ms", "10.6"), LogField("lag", "-3"),
            LogField("shards", "lines/0:2000"), LogField("zero", "0"), LogField("octal", "007"), LogField("dot", "1."),
        ])
        #expect(line.hasSuffix("}\n") && line.filter { $0 == "\n" }.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["message"] as? String == message)
        #expect(object["level"] as? String == "warning")
        #expect(object["batch"] as? Int == 1_795_321_270_000)
        #expect(object["processing_ms"] as? Double == 10.6)
        #expect(object["lag"] as? Int == -3)
        #expect(object["zero"] as? Int == 0)
        #expect(object["shards"] as? String == "lines/0:2000")
        #expect(object["octal"] as? String == "007")
        #expect(object["dot"] as? String == "1.")
        let time = try #require(object["time"] as? String)
        #expect(time.count == "2026-12-03T22:46:32.123Z".count && time.hasSuffix("Z") && time.dropFirst(10).first == "T", "\(time)")
    }
}
