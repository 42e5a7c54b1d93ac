import Glibc

/// The host's policy: <config-dir>/memguard.json, written by the host's administrator. It sets
/// the defaults a container gets, which annotations may relax them, the JIT allowlist, the
/// heuristics' thresholds, directories, and the real runtime for memguard-runc. An unknown key
/// or a bad value is an error that names the key; a missing file means the built-in defaults.
///
///     {"mode": "enforce", "action": "kill", "failure": "closed",
///      "relax": {"mode": false, "failure": false, "allow_wx": false},
///      "allow_wx": ["/usr/bin/node"],
///      "thresholds": {"spray_window_ms": 1000, "spray_max_maps": 4096, ...},
///      "log_dir": "/var/log/memguard", "runtime": "/usr/sbin/runc"}
public struct HostConfig: Sendable, Equatable {
    public struct Relax: Sendable, Equatable {
        /// Annotations may ask for audit (or learn) where the host default is enforce.
        public var mode = false
        /// Annotations may ask for failure=open where the host default is closed.
        public var failure = false
        /// Annotations may add executables to the W^X allowlist (allow-wx, baseline).
        public var allowWX = false
    }

    public struct Thresholds: Sendable, Equatable {
        /// Heap spray: more than `sprayMaxMaps` anonymous mappings or `sprayMaxBytes` bytes of
        /// them within `sprayWindowMilliseconds` raises one alert per window (0 window: off).
        public var sprayWindowMilliseconds: UInt64 = 1000
        public var sprayMaxMaps: UInt64 = 4096
        public var sprayMaxBytes: UInt64 = 4 << 30
        /// Working set: sampled every `sampleIntervalMilliseconds`; an alert when it grows
        /// faster than `workingSetGrowthBytesPerSecond` or passes `workingSetLimitFraction` of
        /// the container's memory limit.
        public var sampleIntervalMilliseconds: UInt64 = 1000
        public var workingSetGrowthBytesPerSecond: UInt64 = 512 << 20
        public var workingSetLimitFraction: Double = 0.9
    }

    public var runtime: String?
    public var mode: MonitorSettings.Mode = .audit
    public var action: MonitorSettings.Action = .kill
    public var failure: MonitorSettings.Failure = .closed
    public var relax = Relax()
    /// Executables (paths inside containers) every monitored container may run as JITs.
    public var allowWX: [String] = []
    public var thresholds = Thresholds()
    public var logDir: String?
    public var stateDir: String?
    public var metricsDir: String?

    public static let fileName = "memguard.json"

    public init() {}

    public static func load(paths: MemguardPaths) throws -> HostConfig {
        let path = "\(paths.configDir)/\(fileName)"
        guard FileSystem.exists(path) else { return HostConfig() }
        return try HostConfig(bytes: FileSystem.readTrusted(path, limit: 1 << 20), path: path)
    }

    public init(bytes: [UInt8], path: String) throws {
        let doc = try JSONDocument(parsing: bytes, what: path)
        let r = Reader(path: path)
        try r.only(doc.root, ["runtime", "mode", "action", "failure", "relax", "allow_wx", "thresholds", "log_dir", "state_dir", "metrics_dir"], at: "")
        runtime = try r.absolutePath(doc.root["runtime"], at: "runtime")
        logDir = try r.absolutePath(doc.root["log_dir"], at: "log_dir")
        stateDir = try r.absolutePath(doc.root["state_dir"], at: "state_dir")
        metricsDir = try r.absolutePath(doc.root["metrics_dir"], at: "metrics_dir")
        if let v = doc.root["mode"] { mode = try r.choice(v, at: "mode") }
        if let v = doc.root["action"] { action = try r.choice(v, at: "action") }
        if let v = doc.root["failure"] { failure = try r.choice(v, at: "failure") }
        if let v = doc.root["relax"] {
            try r.only(v, ["mode", "failure", "allow_wx"], at: "relax")
            relax.mode = try r.bool(v["mode"], at: "relax.mode") ?? false
            relax.failure = try r.bool(v["failure"], at: "relax.failure") ?? false
            relax.allowWX = try r.bool(v["allow_wx"], at: "relax.allow_wx") ?? false
        }
        if let v = doc.root["allow_wx"] {
            guard v.isArray else { throw MemguardError("\(path): \"allow_wx\" must be an array of absolute paths") }
            allowWX = try v.elements.enumerated().map { try r.absolutePath($0.element, at: "allow_wx[\($0.offset)]")! }
        }
        if let v = doc.root["thresholds"] {
            try r.only(v, ["spray_window_ms", "spray_max_maps", "spray_max_bytes", "sample_interval_ms",
                           "working_set_growth_bytes_per_second", "working_set_limit_fraction"], at: "thresholds")
            var t = Thresholds()
            t.sprayWindowMilliseconds = try r.number(v["spray_window_ms"], at: "thresholds.spray_window_ms") ?? t.sprayWindowMilliseconds
            t.sprayMaxMaps = try r.number(v["spray_max_maps"], at: "thresholds.spray_max_maps") ?? t.sprayMaxMaps
            t.sprayMaxBytes = try r.number(v["spray_max_bytes"], at: "thresholds.spray_max_bytes") ?? t.sprayMaxBytes
            t.sampleIntervalMilliseconds = try r.number(v["sample_interval_ms"], at: "thresholds.sample_interval_ms") ?? t.sampleIntervalMilliseconds
            guard t.sampleIntervalMilliseconds >= 10 else { throw MemguardError("\(path): \"thresholds.sample_interval_ms\" must be at least 10") }
            t.workingSetGrowthBytesPerSecond = try r.number(v["working_set_growth_bytes_per_second"], at: "thresholds.working_set_growth_bytes_per_second") ?? t.workingSetGrowthBytesPerSecond
            if let f = v["working_set_limit_fraction"] {
                guard let value = f.double, value > 0, value <= 1 else {
                    throw MemguardError("\(path): \"thresholds.working_set_limit_fraction\" must be a number in (0, 1]")
                }
                t.workingSetLimitFraction = value
            }
            thresholds = t
        }
    }

    /// Typed reads that name the key that is wrong.
    private struct Reader {
        let path: String

        func only(_ value: JSONValue, _ keys: Set<String>, at: String) throws {
            guard value.isObject else { throw MemguardError("\(path): \(at.isEmpty ? "the file" : "\"\(at)\"") must be a JSON object") }
            for (key, _) in value.members where !keys.contains(key) {
                let name = at.isEmpty ? key : "\(at).\(key)"
                throw MemguardError("\(path): unknown key \"\(name)\" (known: \(keys.sorted().joined(separator: ", ")))")
            }
        }

        func absolutePath(_ value: JSONValue?, at: String) throws -> String? {
            guard let value else { return nil }
            guard let text = value.string, text.hasPrefix("/"), !text.utf8.contains(0) else {
                throw MemguardError("\(path): \"\(at)\" must be an absolute path string")
            }
            return text
        }

        func choice<T: RawRepresentable & CaseIterable>(_ value: JSONValue, at: String) throws -> T where T.RawValue == String {
            guard let text = value.string, let choice = T(rawValue: text) else {
                throw MemguardError("\(path): \"\(at)\" must be one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return choice
        }

        func bool(_ value: JSONValue?, at: String) throws -> Bool? {
            guard let value else { return nil }
            guard let b = value.bool else { throw MemguardError("\(path): \"\(at)\" must be true or false") }
            return b
        }

        func number(_ value: JSONValue?, at: String) throws -> UInt64? {
            guard let value else { return nil }
            guard let n = value.uint64 else { throw MemguardError("\(path): \"\(at)\" must be a non-negative integer") }
            return n
        }
    }
}
