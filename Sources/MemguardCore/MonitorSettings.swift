/// What a container asked of memguard through its annotations (`io.memguard.*`).
/// Annotations come from whoever wrote the container spec: values are checked strictly, and
/// a misspelt value is an error rather than a silent fallback to something weaker.
public struct MonitorSettings: Sendable, Equatable {
    public enum Mode: String, Sendable {
        case audit
        case enforce
    }

    public static let prefix = "io.memguard."
    public static let monitorKey = "io.memguard.monitor"
    public static let modeKey = "io.memguard.mode"
    static let known: Set<String> = [monitorKey, modeKey]

    public var mode: Mode = .audit

    public init(mode: Mode = .audit) { self.mode = mode }

    /// nil when the container did not opt in (`io.memguard.monitor` absent or "false").
    /// Any other value, an unknown io.memguard.* key or a bad value is an error: a typo must
    /// stop the start, not leave the container unmonitored or weaker than asked.
    public init?(annotations: [String: String]) throws {
        switch annotations[Self.monitorKey] {
        case nil, "false":
            return nil
        case "true":
            break
        case let other?:
            throw MemguardError("annotation \(Self.monitorKey)=\(Self.quoted(other)) is not one of true, false")
        }
        if let unknown = Self.unknownKeys(in: annotations).first {
            throw MemguardError("annotation \(unknown) is not known to this memguard (known: \(Self.known.sorted().joined(separator: ", ")))")
        }
        for (key, value) in annotations where key.hasPrefix(Self.prefix) {
            if value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                throw MemguardError("annotation \(key) contains control characters")
            }
            if value.utf8.count > 4096 {
                throw MemguardError("annotation \(key) is longer than 4096 bytes")
            }
        }
        if let value = annotations[Self.modeKey] {
            guard let mode = Mode(rawValue: value) else {
                throw MemguardError("annotation \(Self.modeKey)=\(Self.quoted(value)) is not one of audit, enforce")
            }
            self.mode = mode
        }
    }

    /// Keys under io.memguard. that this version does not know.
    public static func unknownKeys(in annotations: [String: String]) -> [String] {
        annotations.keys.filter { $0.hasPrefix(prefix) && !known.contains($0) }.sorted()
    }

    /// A value for an error message: cut, with control characters escaped.
    static func quoted(_ value: String) -> String {
        let cut = value.count > 64 ? String(value.prefix(64)) + "..." : value
        var line = JSONLine()
        line.add("v", cut)
        let json = line.rendered.dropFirst(6).dropLast(2)
        return "'\(json)'"
    }
}
