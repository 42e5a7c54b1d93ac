import Glibc

/// Where memguard keeps its files on the host. Every path has a default, an environment
/// variable and a CLI flag (the flag wins), so tests can point all of them at temporary
/// directories. A hook's environment is exactly the `env` of its OCI hook entry, so the
/// wrapper and the demo write these variables into the hooks they inject.
public struct MemguardPaths: Sendable, Equatable {
    public var configDir = "/etc/memguard"
    public var logDir = "/var/log/memguard"
    public var stateDir = "/run/memguard"
    public var dataDir = "/var/lib/memguard"
    public var pinDir = "/sys/fs/bpf/memguard"
    /// Prometheus textfile-collector files, one per monitored container.
    public var metricsDir = "/var/lib/memguard/metrics"
    /// Kernel BTF used for CO-RE relocation.
    public var btfPath = "/sys/kernel/btf/vmlinux"

    public static let variables: [(name: String, flag: String, keyPath: WritableKeyPath<MemguardPaths, String>)] = [
        ("MEMGUARD_CONFIG_DIR", "--config-dir", \.configDir),
        ("MEMGUARD_LOG_DIR", "--log-dir", \.logDir),
        ("MEMGUARD_STATE_DIR", "--state-dir", \.stateDir),
        ("MEMGUARD_DATA_DIR", "--data-dir", \.dataDir),
        ("MEMGUARD_PIN_DIR", "--pin-dir", \.pinDir),
        ("MEMGUARD_METRICS_DIR", "--metrics-dir", \.metricsDir),
        ("MEMGUARD_BTF", "--btf", \.btfPath),
    ]

    /// Variables given explicitly (environment or flag): the host policy does not override them.
    var explicit: Set<String> = []

    public init() {}

    /// Defaults overridden by the environment.
    public static func fromEnvironment() -> MemguardPaths {
        var paths = MemguardPaths()
        for variable in variables {
            if let value = getenv(variable.name), value.pointee != 0 {
                paths[keyPath: variable.keyPath] = String(cString: value)
                paths.explicit.insert(variable.name)
            }
        }
        return paths
    }

    /// Takes the host policy's directories where neither a flag nor the environment set one.
    public mutating func adopt(_ host: HostConfig) {
        if let dir = host.logDir, !explicit.contains("MEMGUARD_LOG_DIR") { logDir = dir }
        if let dir = host.stateDir, !explicit.contains("MEMGUARD_STATE_DIR") { stateDir = dir }
        if let dir = host.metricsDir, !explicit.contains("MEMGUARD_METRICS_DIR") { metricsDir = dir }
    }

    /// The host policy, with its directories adopted.
    public mutating func loadHostConfig() throws -> HostConfig {
        let host = try HostConfig.load(paths: self)
        adopt(host)
        return host
    }

    /// Removes `--log-dir X` style flags from `args` and applies them.
    public mutating func applyFlags(_ args: inout [String]) throws {
        var rest: [String] = []
        var i = 0
        while i < args.count {
            let arg = args[i]
            if let variable = Self.variables.first(where: { arg == $0.flag || arg.hasPrefix($0.flag + "=") }) {
                let value: String
                if arg.hasPrefix(variable.flag + "=") {
                    value = String(arg.dropFirst(variable.flag.count + 1))
                } else {
                    guard i + 1 < args.count else { throw MemguardError("\(arg) needs a value") }
                    value = args[i + 1]
                    i += 1
                }
                guard value.hasPrefix("/") else { throw MemguardError("\(variable.flag) must be an absolute path, not '\(value)'") }
                self[keyPath: variable.keyPath] = value
                explicit.insert(variable.name)
            } else {
                rest.append(arg)
            }
            i += 1
        }
        args = rest
    }

    /// The environment a hook or monitor needs to see these same paths.
    public var environment: [String] {
        Self.variables.map { "\($0.name)=\(self[keyPath: $0.keyPath])" }
    }

    public var containersDir: String { stateDir + "/containers" }
    public var lockFile: String { stateDir + "/probes.lock" }

    public func logFile(for id: ContainerID) -> String { "\(logDir)/\(id.fileName).log" }
    public func stateFile(for id: ContainerID) -> String { "\(containersDir)/\(id.fileName).state" }
    public func metricsFile(for id: ContainerID) -> String { "\(metricsDir)/\(id.fileName).prom" }
    public var baselinesDir: String { dataDir + "/baselines" }
}
