/// A place in a job file, so that every job error can point at it the way a
/// compiler does: `job.sql:12:5: message`.
public struct SourceLocation: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// How eddy ends. These are the exit codes SPEC promises to users and scripts.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    /// Bad SQL, bad option, invalid window: found before any batch runs.
    case jobError = 1
    /// Bad command line.
    case usage = 2
    /// Something failed while the job ran (I/O, a statement error in a batch).
    case runtime = 3
}

/// Every error eddy shows a user carries its own message and exit status, so
/// the executable never has to guess how to report it.
public protocol EddyError: Error, CustomStringConvertible, Sendable {
    var exitStatus: ExitStatus { get }
}

/// An error in the job: always tied to a place in the job file.
public struct JobError: EddyError, Equatable {
    public var location: SourceLocation
    public var message: String

    public init(_ location: SourceLocation, _ message: String) {
        self.location = location
        self.message = message
    }

    public var exitStatus: ExitStatus { .jobError }
    public var description: String { "\(location): \(message)" }
}

/// Several job errors found in one pass, reported together like a compiler does.
public struct JobErrors: EddyError {
    public var errors: [JobError]
    public init(_ errors: [JobError]) { self.errors = errors }
    public var exitStatus: ExitStatus { .jobError }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// A failure while the job runs: I/O, a statement that fails on a batch's data,
/// a sink that cannot be written.
public struct RuntimeError: EddyError {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var exitStatus: ExitStatus { .runtime }
    public var description: String { message }
}

/// A bad command line, named by its option.
public struct UsageError: EddyError {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var exitStatus: ExitStatus { .usage }
    public var description: String { message }
}
