import Glibc
import MemguardCore

/// The monitor's own cgroup, so it is never counted in the container it watches and its
/// memory is capped: cgroup v2 `memory.max` where the unified hierarchy has the memory
/// controller, else the v1 memory controller (hybrid hosts).
public struct MonitorCgroup {
    public static let memoryLimit: UInt64 = 64 << 20
    static let v1Memory = "/sys/fs/cgroup/memory"

    public let directories: [String]
    public let unifiedRoot: String

    /// The directories a monitor of `container` uses (whether or not they exist). The cgroup2
    /// mount is read from mountinfo unless the caller already knows it.
    public init(container: ContainerID, unifiedRoot known: String? = nil) throws {
        unifiedRoot = try known ?? ContainerScope.cgroup2Mount(mountInfo: FileSystem.readText("/proc/self/mountinfo"))
        var dirs = ["\(unifiedRoot)/memguard/\(container.fileName)"]
        if !Self.unifiedHasMemory(unifiedRoot) && FileSystem.exists(Self.v1Memory + "/cgroup.procs") {
            dirs.append("\(Self.v1Memory)/memguard/\(container.fileName)")
        }
        directories = dirs
    }

    static func unifiedHasMemory(_ root: String) -> Bool {
        let controllers = (try? FileSystem.readText("\(root)/cgroup.controllers")) ?? ""
        return controllers.split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory")
    }

    /// Moves the calling process into its cgroups and sets the memory limit.
    public func join() throws {
        let pid = "\(getpid())"
        for dir in directories {
            let parent = String(dir[..<dir.lastIndex(of: "/")!])
            let isUnified = dir.hasPrefix(unifiedRoot + "/")
            try FileSystem.makeDirectories(dir, mode: 0o755)
            if isUnified && Self.unifiedHasMemory(unifiedRoot) {
                try? write("+memory", to: "\(unifiedRoot)/cgroup.subtree_control")
                try write("+memory", to: "\(parent)/cgroup.subtree_control")
                try write("\(Self.memoryLimit)", to: "\(dir)/memory.max")
            } else if !isUnified {
                try write("\(Self.memoryLimit)", to: "\(dir)/memory.limit_in_bytes")
            }
            try write(pid, to: "\(dir)/cgroup.procs")
        }
    }

    /// Moves the calling process back to the root cgroups (if it is in ours) and removes the
    /// directories, and their parent when no other monitor uses it.
    public func remove() {
        for dir in directories where FileSystem.exists(dir) {
            let root = dir.hasPrefix(unifiedRoot + "/") ? unifiedRoot : Self.v1Memory
            let procs = (try? FileSystem.readText("\(dir)/cgroup.procs")) ?? ""
            if procs.split(separator: "\n").contains(Substring("\(getpid())")) {
                try? write("\(getpid())", to: "\(root)/cgroup.procs")
            }
            rmdir(dir)
            rmdir(String(dir[..<dir.lastIndex(of: "/")!]))
        }
    }

    private func write(_ text: String, to path: String) throws {
        let fd = try sys("opening \(path)") { open(path, O_WRONLY | O_CLOEXEC) }
        defer { close(fd) }
        try FileSystem.writeAll(fd: fd, Array(text.utf8), what: path)
    }
}
