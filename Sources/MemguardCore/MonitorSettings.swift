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
    static let known: Set<String> = [monitorKey, modeKey, "io.memguard.seccomp", "io.memguard.seccomp-record",
                                     "io.memguard.action", "io.memguard.failure", "io.memguard.allow-wx"]

    public var mode: Mode = .audit

    public init(mode: Mode = .audit) { self.mode = mode }

    /// nil when the container did not opt in (`io.memguard.monitor` absent or not "true").
    public init?(annotations: [String: String]) throws {
        guard annotations[Self.monitorKey] == "true" else { return nil }
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

    /// Keys under io.memguard. that this version does not know (reported, not fatal: a newer
    /// spec may carry settings for a newer memguard).
    public static func unknownKeys(in annotations: [String: String]) -> [String] {
        annotations.keys.filter { $0.hasPrefix(prefix) && !known.contains($0) }.sorted()
    }

    static func quoted(_ value: String) -> String {
        let cut = value.count > 64 ? String(value.prefix(64)) + "..." : value
        return "'\(cut)'"
    }
}
