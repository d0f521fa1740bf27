import EddyCore

/// eddy's job-file location (Swift Testing has a `SourceLocation` of its own).
typealias Loc = EddyCore.SourceLocation
