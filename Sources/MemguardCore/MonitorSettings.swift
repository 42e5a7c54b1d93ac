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
    static let known: Set<String> = [monitorKey, modeKey, seccompKey, seccompRecordKey, seccompInstalledKey]

    public static let seccompKey = "io.memguard.seccomp"
    public static let seccompRecordKey = "io.memguard.seccomp-record"
    /// Set by memguard-runc to the profiles it installed, so the hook can tell a request that
    /// was honoured from one that never reached the runtime (no wrapper in the path).
    public static let seccompInstalledKey = "io.memguard.seccomp-installed"
    /// The built-in profile fragment that refuses memory both writable and executable.
    public static let wxDeny = "wx-deny"

    public var mode: Mode = .audit
    /// Seccomp profiles to install, by name (io.memguard.seccomp=a,wx-deny): at most one
    /// profile file, plus the built-in wx-deny fragment on top.
    public var seccompProfiles: [String] = []
    /// Record the container's syscalls into a profile of this name (io.memguard.seccomp-record).
    public var recordProfile: String?

    public init(mode: Mode = .audit) { self.mode = mode }

    /// The string members of an "annotations" object (a missing one is empty). Our own keys
    /// must be strings; other keys are not ours to judge.
    public static func annotations(in root: JSONValue, what: String) throws -> [String: String] {
        guard let value = root["annotations"] else { return [:] }
        guard value.isObject else {
            throw MemguardError("\(what): \"annotations\" is a \(value.typeName), not an object")
        }
        var out: [String: String] = [:]
        for (key, member) in value.members {
            guard let text = member.string else {
                if key.hasPrefix(prefix) { throw MemguardError("annotation \(key) is a \(member.typeName), not a string") }
                continue
            }
            out[key] = text
        }
        return out
    }

    /// A profile name: a plain file name, nothing else (no path, no leading dot).
    public static func checkProfileName(_ name: String, key: String) throws {
        let allowed = name.utf8.allSatisfy { b in
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F || b == 0x2E
        }
        guard allowed, !name.isEmpty, !name.hasPrefix("."), name.utf8.count <= 64 else {
            throw MemguardError("annotation \(key)=\(quoted(name)) is not a plain profile name (letters, digits, '.', '_', '-'; at most 64)")
        }
    }

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
        if let value = annotations[Self.seccompKey] {
            let names = value.split(separator: ",", omittingEmptySubsequences: false).map { String($0) }
            for name in names { try Self.checkProfileName(name, key: Self.seccompKey) }
            guard Set(names).count == names.count, names.filter({ $0 != Self.wxDeny }).count <= 1 else {
                throw MemguardError("annotation \(Self.seccompKey)=\(Self.quoted(value)) names more than one profile (one profile, plus \(Self.wxDeny) if wanted)")
            }
            // The profile first, the fragment on top of it.
            seccompProfiles = names.filter { $0 != Self.wxDeny } + names.filter { $0 == Self.wxDeny }
        }
        if let name = annotations[Self.seccompRecordKey] {
            try Self.checkProfileName(name, key: Self.seccompRecordKey)
            recordProfile = name
        }
    }

    /// The hook's check that a requested seccomp profile was really installed: without
    /// memguard-runc in the path the request would be silently ignored.
    public func checkSeccompInstalled(annotations: [String: String]) throws {
        let installed = annotations[Self.seccompInstalledKey] ?? ""
        if !seccompProfiles.isEmpty && installed != seccompProfiles.joined(separator: ",") {
            throw MemguardError("annotation \(Self.seccompKey) asks for a seccomp profile, but no memguard-runc installed it (run the container through memguard-runc: hooks run after the runtime has read the spec)")
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
