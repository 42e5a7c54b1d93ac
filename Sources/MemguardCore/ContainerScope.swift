import Glibc

/// Where a container lives in the kernel: its cgroup v2 directory (whose inode number is the
/// id BPF sees) and its PID namespace. Resolved from the container init's host pid.
public struct ContainerScope: Sendable, Equatable {
    public var cgroupPath: String      // path below the cgroup2 mount, e.g. /default/abc
    public var cgroupDir: String       // absolute directory on the host
    public var cgroupID: UInt64
    public var pidnsInode: UInt32
    public var pidnsLevel: UInt32

    public init(cgroupPath: String, cgroupDir: String, cgroupID: UInt64, pidnsInode: UInt32, pidnsLevel: UInt32) {
        self.cgroupPath = cgroupPath
        self.cgroupDir = cgroupDir
        self.cgroupID = cgroupID
        self.pidnsInode = pidnsInode
        self.pidnsLevel = pidnsLevel
    }

    /// The deepest cgroup level the kernel programs look at for a registered ancestor
    /// (MG_MAX_CGROUP_DEPTH in bpf/memguard.bpf.c).
    public static let maxDepth = 32

    /// Resolves the scope of process `pid`. `procRoot` and `mountInfo` exist for tests.
    public static func resolve(pid: Int32, procRoot: String = "/proc") throws -> ContainerScope {
        let proc = "\(procRoot)/\(pid)"
        let mount = try cgroup2Mount(mountInfo: FileSystem.readText("\(procRoot)/self/mountinfo"))
        let path = try unifiedPath(cgroupFile: FileSystem.readText("\(proc)/cgroup"), pid: pid)
        guard path != "/" else {
            throw MemguardError("process \(pid) is in the root cgroup v2 directory; memguard scopes by cgroup and would watch the whole host")
        }
        let depth = path.split(separator: "/").count
        guard depth <= maxDepth else {
            throw MemguardError("cgroup \(path) is \(depth) levels deep; memguard follows a container's processes into its sub-cgroups only when its own cgroup is at most \(maxDepth) levels deep")
        }
        let dir = mount + path
        let id = try FileSystem.inode(of: dir).ino
        let ns = try FileSystem.inode(of: "\(proc)/ns/pid").ino
        let level = try pidnsLevel(status: FileSystem.readText("\(proc)/status"), pid: pid)
        return ContainerScope(cgroupPath: path, cgroupDir: dir, cgroupID: id, pidnsInode: UInt32(truncatingIfNeeded: ns), pidnsLevel: level)
    }

    /// The cgroup2 mount point from /proc/self/mountinfo: /sys/fs/cgroup on pure v2 hosts,
    /// /sys/fs/cgroup/unified on hybrid ones.
    public static func cgroup2Mount(mountInfo: String) throws -> String {
        for line in mountInfo.split(separator: "\n") {
            // id parent major:minor root mountpoint options [optional...] - fstype source super
            let fields = line.split(separator: " ")
            guard let dash = fields.firstIndex(of: "-"), dash + 1 < fields.count, fields.count > 4 else { continue }
            if fields[dash + 1] == "cgroup2" && fields[3] == "/" {
                return unescapeMountPath(String(fields[4]))
            }
        }
        throw MemguardError("no cgroup v2 hierarchy is mounted (looked for fstype cgroup2 in /proc/self/mountinfo); mount one with: mount -t cgroup2 none /sys/fs/cgroup/unified")
    }

    /// The `0::/path` line of /proc/<pid>/cgroup.
    public static func unifiedPath(cgroupFile: String, pid: Int32) throws -> String {
        for line in cgroupFile.split(separator: "\n") where line.hasPrefix("0::") {
            let path = String(line.dropFirst(3))
            guard path.hasPrefix("/"), !path.split(separator: "/").contains("..") else {
                throw MemguardError("process \(pid) has an unexpected cgroup v2 path '\(path)'")
            }
            return path.hasSuffix(" (deleted)") ? String(path.dropLast(10)) : path
        }
        throw MemguardError("process \(pid) is in no cgroup v2 directory (/proc/\(pid)/cgroup has no 0:: line)")
    }

    /// Depth of the task's PID namespace: entries on the NSpid line minus one.
    public static func pidnsLevel(status: String, pid: Int32) throws -> UInt32 {
        for line in status.split(separator: "\n") where line.hasPrefix("NSpid:") {
            let count = line.dropFirst(6).split(whereSeparator: { $0 == " " || $0 == "\t" }).count
            if count > 0 { return UInt32(count - 1) }
        }
        throw MemguardError("cannot read the PID namespace depth of process \(pid) (no NSpid in /proc/\(pid)/status)")
    }

    static func unescapeMountPath(_ path: String) -> String {
        // mountinfo escapes space, tab, newline and backslash as \ooo.
        var out: [UInt8] = []
        let bytes = Array(path.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x5C, i + 3 < bytes.count,
               let value = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(value)
                i += 4
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
