import EddyCore

/// Builds JSON text by hand: the API's shapes are fixed and small, and this
/// keeps Foundation out of the engine's process. Commas are placed by the
/// writer; callers only open, write members and close.
struct JSONWriter {
    private(set) var text = ""
    /// Whether the container being written already has a member.
    private var hasMember: [Bool] = []

    init() { text.reserveCapacity(1024) }

    mutating func beginObject(_ key: String? = nil) { open(key, "{") }
    mutating func endObject() { close("}") }
    mutating func beginArray(_ key: String? = nil) { open(key, "[") }
    mutating func endArray() { close("]") }

    mutating func string(_ key: String?, _ value: String?) {
        member(key)
        if let value { Self.quote(value, into: &text) } else { text += "null" }
    }

    mutating func int(_ key: String?, _ value: Int64?) {
        member(key)
        text += value.map { String($0) } ?? "null"
    }

    mutating func int(_ key: String?, _ value: Int) { int(key, Int64(value)) }

    /// Rounded to `digits` decimals; NaN and infinities, which JSON has no
    /// words for, are null.
    mutating func double(_ key: String?, _ value: Double?, digits: Int = 3) {
        member(key)
        guard let value, value.isFinite else {
            text += "null"
            return
        }
        var scale = 1.0
        for _ in 0..<max(0, digits) { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        if rounded == rounded.rounded(), abs(rounded) < 1e15 {
            text += String(Int64(rounded))
        } else {
            text += String(rounded)
        }
    }

    mutating func bool(_ key: String?, _ value: Bool) {
        member(key)
        text += value ? "true" : "false"
    }

    /// A member whose value is JSON text made elsewhere.
    mutating func raw(_ key: String?, _ json: String) {
        member(key)
        text += json
    }

    private mutating func open(_ key: String?, _ bracket: String) {
        member(key)
        text += bracket
        hasMember.append(false)
    }

    private mutating func close(_ bracket: String) {
        text += bracket
        hasMember.removeLast()
    }

    private mutating func member(_ key: String?) {
        if let last = hasMember.last {
            if last { text += "," }
            hasMember[hasMember.count - 1] = true
        }
        if let key {
            Self.quote(key, into: &text)
            text += ":"
        }
    }

    /// A JSON string literal: quotes, backslashes and control characters
    /// escaped; everything else, invalid UTF-8 aside, as it is.
    static func quote(_ s: String, into out: inout String) {
        out += JSONText.string(s)
    }
}
