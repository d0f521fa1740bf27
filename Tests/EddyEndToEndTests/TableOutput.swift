/// Reads eddy's `--format table` output back into batches of rows, so tests
/// can compare what each batch printed.
struct TableOutput {
    struct Batch {
        var time: Int64
        /// One table per output statement that ran in the batch.
        var tables: [[[String]]]
        var rows: [[String]] { tables.flatMap { $0 } }
    }

    var batches: [Batch] = []

    init(_ text: String) {
        var current: Batch?
        var table: [[String]]?
        var expectDashes = false
        func closeTable() {
            if let t = table { current?.tables.append(t) }
            table = nil
        }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line.hasPrefix("--- batch ") && line.hasSuffix(" ---") {
                closeTable()
                if let c = current { batches.append(c) }
                let t = Int64(line.dropFirst("--- batch ".count).dropLast(" ---".count)) ?? -1
                current = Batch(time: t, tables: [])
                table = []
                expectDashes = true
                continue
            }
            if line.isEmpty {
                // A blank line separates two statements' tables in one batch.
                closeTable()
                table = []
                expectDashes = true
                continue
            }
            if expectDashes {
                if line.allSatisfy({ $0 == "-" || $0 == " " }) { expectDashes = false }
                continue // the column-name line, then the dashes
            }
            if line == "(no rows)" { continue }
            table?.append(line.split(separator: " ", omittingEmptySubsequences: true).map(String.init))
        }
        closeTable()
        if let c = current { batches.append(c) }
    }

    var times: [Int64] { batches.map(\.time) }

    func batch(_ time: Int64) -> Batch? { batches.first { $0.time == time } }
}
