import EddyCore
import Glibc
import EddySQL

/// Writes one file per batch, `PREFIX-BATCHTIMEMS.EXT`, to a temporary name
/// first and then renames it, so readers never see half a file and a re-run
/// batch replaces its file instead of adding another.
final class FileSink {
    let prefix: String
    let format: OutputFormat
    let emptyFiles: Bool
    private var directoryReady = false

    init(prefix: String, format: OutputFormat, emptyFiles: Bool) {
        self.prefix = prefix
        self.format = format
        self.emptyFiles = emptyFiles
    }

    var fileExtension: String {
        switch format {
        case .csv, .table: return "csv"
        case .tsv: return "tsv"
        case .jsonl: return "jsonl"
        }
    }

    func path(for batchTime: Int64) -> String { "\(prefix)-\(batchTime).\(fileExtension)" }

    func write(batchTime: Int64, rows: Statement) throws -> Int {
        let path = path(for: batchTime)
        if !directoryReady {
            try Files.makeDirectories(Files.parent(of: path))
            directoryReady = true
        }
        let temp = Files.parent(of: path) + "/.eddy-tmp-" + (path.split(separator: "/").last.map(String.init) ?? "out")
        let fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Files.IOError(path: temp, operation: "create", code: errno) }
        let writer = OutputWriter(fd: fd)
        var count = 0
        do {
            let columns = rows.columnCount
            if format == .csv || format == .tsv {
                let sep = format == .csv ? "," : "\t"
                try writer.write(rows.columnNames.joined(separator: sep) + "\n")
            }
            let names = rows.columnNames.map { Array($0.utf8) }
            while try rows.step() {
                switch format {
                case .csv, .table: try RowEncoder.csv(rows, columns: columns, to: writer)
                case .tsv: try RowEncoder.tsv(rows, columns: columns, to: writer)
                case .jsonl: try RowEncoder.jsonl(rows, names: names, to: writer)
                }
                count += 1
            }
            rows.reset()
            try writer.flush()
        } catch is OutputClosed {
            rows.reset()
            close(fd)
            unlink(temp)
            throw Files.IOError(path: temp, operation: "write", code: errno == 0 ? EIO : errno)
        } catch {
            rows.reset()
            close(fd)
            unlink(temp)
            throw error
        }
        if count == 0 && !emptyFiles {
            close(fd)
            unlink(temp)
            return 0
        }
        guard fsync(fd) == 0 else {
            let code = errno
            close(fd)
            unlink(temp)
            throw Files.IOError(path: temp, operation: "fsync", code: code)
        }
        close(fd)
        guard rename(temp, path) == 0 else {
            let code = errno
            unlink(temp)
            throw Files.IOError(path: path, operation: "rename into", code: code)
        }
        Files.syncDirectory(of: path)
        return count
    }
}
