import Glibc
import Testing
@testable import MemguardCore

@Suite("Finding a container's cgroup and PID namespace")
struct ContainerScopeTests {
    static let hybrid = """
    22 27 0:21 / /proc rw,relatime - proc proc rw
    30 28 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
    31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime shared:10 - cgroup2 cgroup2 rw,nsdelegate
    32 30 0:28 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
    """

    @Test func findsTheUnifiedMountOnHybridAndPureHosts() throws {
        #expect(try ContainerScope.cgroup2Mount(mountInfo: Self.hybrid) == "/sys/fs/cgroup/unified")
        let pure = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw\n"
        #expect(try ContainerScope.cgroup2Mount(mountInfo: pure) == "/sys/fs/cgroup")
        let escaped = "29 23 0:26 / /mnt/cg\\040two rw - cgroup2 cgroup2 rw\n"
        #expect(try ContainerScope.cgroup2Mount(mountInfo: escaped) == "/mnt/cg two")
    }

    @Test func noCgroup2IsAClearError() {
        #expect(throws: MemguardError.self) { try ContainerScope.cgroup2Mount(mountInfo: "22 27 0:21 / /proc rw - proc proc rw\n") }
    }

    @Test func readsTheUnifiedPath() throws {
        let file = "9:name=systemd:/\n4:memory:/default/c1\n0::/default/c1\n"
        #expect(try ContainerScope.unifiedPath(cgroupFile: file, pid: 1) == "/default/c1")
        #expect(throws: MemguardError.self) { try ContainerScope.unifiedPath(cgroupFile: "4:memory:/x\n", pid: 1) }
        #expect(throws: MemguardError.self) { try ContainerScope.unifiedPath(cgroupFile: "0::/a/../b\n", pid: 1) }
    }

    @Test func pidNamespaceDepthComesFromNSpid() throws {
        #expect(try ContainerScope.pidnsLevel(status: "Name:\tsh\nNSpid:\t4242\t1\n", pid: 4242) == 1)
        #expect(try ContainerScope.pidnsLevel(status: "NSpid:\t7\n", pid: 7) == 0)
        #expect(throws: MemguardError.self) { try ContainerScope.pidnsLevel(status: "Name:\tx\n", pid: 7) }
    }

    @Test func resolvesThisProcess() throws {
        // Every process is somewhere in the unified hierarchy; the root cgroup is refused
        // because scoping by it would watch the whole host.
        let path = try ContainerScope.unifiedPath(cgroupFile: FileSystem.readText("/proc/self/cgroup"), pid: getpid())
        if path == "/" {
            #expect(throws: MemguardError.self) { try ContainerScope.resolve(pid: getpid()) }
        } else {
            let scope = try ContainerScope.resolve(pid: getpid())
            #expect(scope.cgroupPath == path)
            #expect(scope.cgroupID > 1)
        }
    }
}

@Suite("Paths")
struct PathsTests {
    @Test func flagsOverrideAndAreRemoved() throws {
        var paths = MemguardPaths()
        var args = ["--log-dir", "/tmp/l", "demo", "--pin-dir=/sys/fs/bpf/t"]
        try paths.applyFlags(&args)
        #expect(args == ["demo"])
        #expect(paths.logDir == "/tmp/l")
        #expect(paths.pinDir == "/sys/fs/bpf/t")
        #expect(paths.environment.contains("MEMGUARD_LOG_DIR=/tmp/l"))
    }

    @Test func relativeOrMissingValuesAreRefused() {
        var paths = MemguardPaths()
        var relative = ["--log-dir", "logs"]
        #expect(throws: MemguardError.self) { try paths.applyFlags(&relative) }
        var missing = ["--state-dir"]
        #expect(throws: MemguardError.self) { try paths.applyFlags(&missing) }
    }
}
