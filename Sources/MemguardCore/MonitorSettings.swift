/// What a container gets from memguard: its annotations (`io.memguard.*`) over the host
/// policy (memguard.json). Annotations come from whoever wrote the container spec: values are
/// checked strictly, a misspelt value is an error rather than a silent fallback, and an
/// annotation may only make the host's policy stricter unless the host allows relaxing it.
public struct MonitorSettings: Sendable, Equatable {
    public enum Mode: String, Sendable, CaseIterable {
        case audit
        case enforce
        /// Audit, and learn which executables break W^X: the baseline for later runs.
        case learn

        /// audit and learn never stop anything; enforce does.
        var strictness: Int { self == .enforce ? 1 : 0 }
    }

    /// What enforce mode does to an offender.
    public enum Action: String, Sendable, CaseIterable {
        case kill
        /// Stop the offender at once, then freeze the whole container for inspection.
        case freeze
    }

    /// When monitoring cannot be set up: refuse the start (closed) or start unmonitored with a
    /// loud warning (open).
    public enum Failure: String, Sendable, CaseIterable {
        case closed
        case open
    }

    public static let prefix = "io.memguard."
    public static let monitorKey = "io.memguard.monitor"
    public static let modeKey = "io.memguard.mode"
    public static let actionKey = "io.memguard.action"
    public static let failureKey = "io.memguard.failure"
    public static let allowWXKey = "io.memguard.allow-wx"
    public static let baselineKey = "io.memguard.baseline"
    public static let seccompKey = "io.memguard.seccomp"
    public static let seccompRecordKey = "io.memguard.seccomp-record"
    /// Set by memguard-runc to the profiles it installed, so the hook can tell a request that
    /// was honoured from one that never reached the runtime (no wrapper in the path).
    public static let seccompInstalledKey = "io.memguard.seccomp-installed"
    /// The built-in profile fragment that refuses memory both writable and executable.
    public static let wxDeny = "wx-deny"
    static let known: Set<String> = [monitorKey, modeKey, actionKey, failureKey, allowWXKey, baselineKey,
                                     seccompKey, seccompRecordKey, seccompInstalledKey]

    public var mode: Mode = .audit
    public var action: Action = .kill
    public var failure: Failure = .closed
    /// Executables (paths inside the container) allowed to break W^X: the host's list, plus the
    /// annotation's where the host allows it.
    public var allowWX: [String] = []
    /// learn mode: the baseline to write; other modes: a learned baseline to allow.
    public var baseline: String?
    /// Seccomp profiles to install, by name (io.memguard.seccomp=a,wx-deny): at most one
    /// profile file, plus the built-in wx-deny fragment on top.
    public var seccompProfiles: [String] = []
    /// Record the container's syscalls into a profile of this name (io.memguard.seccomp-record).
    public var recordProfile: String?
    public var thresholds = HostConfig.Thresholds()

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
    /// stop the start, not leave the container unmonitored or weaker than asked. So are other
    /// io.memguard.* settings without io.memguard.monitor: they ask for protection that would
    /// silently not be there ("false" says so explicitly and is accepted).
    public init?(annotations: [String: String], host: HostConfig = HostConfig()) throws {
        switch annotations[Self.monitorKey] {
        case nil:
            if let setting = annotations.keys.filter({ $0.hasPrefix(Self.prefix) }).sorted().first {
                throw MemguardError("annotation \(setting) is set but \(Self.monitorKey) is not: add \(Self.monitorKey)=true to monitor the container (or remove its io.memguard.* annotations)")
            }
            return nil
        case "false":
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
        mode = host.mode
        action = host.action
        failure = host.failure
        allowWX = host.allowWX
        thresholds = host.thresholds
        if let value = annotations[Self.modeKey] {
            let asked: Mode = try Self.choice(value, key: Self.modeKey)
            if asked.strictness < host.mode.strictness && !host.relax.mode {
                throw Self.relaxing(Self.modeKey, value, "\"mode\" is \(host.mode.rawValue)", "relax.mode")
            }
            mode = asked
        }
        if let value = annotations[Self.actionKey] { action = try Self.choice(value, key: Self.actionKey) }
        if let value = annotations[Self.failureKey] {
            let asked: Failure = try Self.choice(value, key: Self.failureKey)
            if asked == .open && host.failure == .closed && !host.relax.failure {
                throw Self.relaxing(Self.failureKey, value, "\"failure\" is closed", "relax.failure")
            }
            failure = asked
        }
        if let value = annotations[Self.allowWXKey] {
            guard host.relax.allowWX else {
                throw Self.relaxing(Self.allowWXKey, value, "the allowlist is the host's", "relax.allow_wx")
            }
            for path in value.split(separator: ",").map(String.init) {
                guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                    throw MemguardError("annotation \(Self.allowWXKey): \(Self.quoted(path)) is not an absolute path inside the container")
                }
                if !allowWX.contains(path) { allowWX.append(path) }
            }
        }
        if let name = annotations[Self.baselineKey] {
            try Self.checkProfileName(name, key: Self.baselineKey)
            if mode != .learn && !host.relax.allowWX {
                throw Self.relaxing(Self.baselineKey, name, "a baseline widens the allowlist", "relax.allow_wx")
            }
            baseline = name
        }
        if mode == .learn && baseline == nil {
            throw MemguardError("annotation \(Self.modeKey)=learn needs \(Self.baselineKey)=NAME: the name of the baseline to write")
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

    static func choice<T: RawRepresentable & CaseIterable>(_ value: String, key: String) throws -> T where T.RawValue == String {
        guard let choice = T(rawValue: value) else {
            throw MemguardError("annotation \(key)=\(quoted(value)) is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return choice
    }

    static func relaxing(_ key: String, _ value: String, _ why: String, _ setting: String) -> MemguardError {
        MemguardError("annotation \(key)=\(quoted(value)) would relax the host policy (\(why) in \(HostConfig.fileName), and \(setting) is not true)")
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
