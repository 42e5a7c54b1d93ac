import Glibc

/// What memguard remembers about a monitored container between hook calls:
/// /run/memguard/containers/<container>.state, one `key=value` per line (values are numbers
/// or paths memguard computed itself; the container id is stored escaped).
public struct StateRecord: Sendable, Equatable {
    public var containerID: String
    public var cgroupID: UInt64
    public var cgroupPath: String
    public var pidnsInode: UInt32
    public var initPID: Int32
    public var monitorPID: Int32
    /// Start time of the monitor (clock ticks since boot, /proc/<pid>/stat field 22), so a
    /// reused pid is never signalled by mistake.
    public var monitorStart: UInt64
    public var mode: String
    /// Record mode: the name of the profile to write at the end ("" if none).
    public var recordProfile: String
    public var action: String

    public init(containerID: String, cgroupID: UInt64, cgroupPath: String, pidnsInode: UInt32, initPID: Int32, monitorPID: Int32, monitorStart: UInt64, mode: String, recordProfile: String = "", action: String = "kill") {
        self.containerID = containerID
        self.cgroupID = cgroupID
        self.cgroupPath = cgroupPath
        self.pidnsInode = pidnsInode
        self.initPID = initPID
        self.monitorPID = monitorPID
        self.monitorStart = monitorStart
        self.mode = mode
        self.recordProfile = recordProfile
        self.action = action
    }

    public var text: String {
        var line = JSONLine()
        line.add("id", containerID)
        return """
        container=\(line.rendered)
        cgroup_id=\(cgroupID)
        cgroup_path=\(cgroupPath.filter { $0 != "\n" })
        pidns=\(pidnsInode)
        init_pid=\(initPID)
        monitor_pid=\(monitorPID)
        monitor_start=\(monitorStart)
        mode=\(mode)
        record=\(recordProfile)
        action=\(action)

        """
    }

    public init(text: String, path: String) throws {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        func field(_ key: String) throws -> String {
            guard let value = fields[key] else { throw MemguardError("state file \(path) has no \(key)") }
            return value
        }
        func number<T: FixedWidthInteger>(_ key: String) throws -> T {
            guard let value = T(try field(key)) else { throw MemguardError("state file \(path): \(key) is not a number") }
            return value
        }
        let doc = try JSONDocument(parsing: Array(try field("container").utf8), what: "state file \(path)")
        guard let id = doc.root["id"]?.string else { throw MemguardError("state file \(path): bad container field") }
        containerID = id
        cgroupID = try number("cgroup_id")
        cgroupPath = try field("cgroup_path")
        pidnsInode = try number("pidns")
        initPID = try number("init_pid")
        monitorPID = try number("monitor_pid")
        monitorStart = try number("monitor_start")
        mode = try field("mode")
        recordProfile = fields["record"] ?? ""
        action = fields["action"] ?? "kill"
        if !recordProfile.isEmpty { try MonitorSettings.checkProfileName(recordProfile, key: "record in \(path)") }
    }

    public static func load(_ path: String) throws -> StateRecord? {
        guard FileSystem.exists(path) else { return nil }
        return try StateRecord(text: FileSystem.readText(path, limit: 65536), path: path)
    }
}

/// Process start time (field 22 of /proc/<pid>/stat), or nil if the process is gone or has
/// exited and waits to be reaped (a zombie runs no code and holds no resources).
public func processStartTime(_ pid: Int32) -> UInt64? {
    guard let text = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096),
          let close = text.lastIndex(of: ")") else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    // fields[0] is state (field 3), so field 22 is fields[19].
    guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
    return UInt64(fields[19])
}
