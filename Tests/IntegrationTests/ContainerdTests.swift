import Glibc
import MemguardCore
import MemguardProbes
import Testing
@testable import MemguardDemo

/// A containerd of the test's own (config, root, state and socket in the sandbox), with a
/// busybox image built offline with umoci and imported, running containers through
/// memguard-runc the way a shim does: `create --bundle ...`, `start`, `delete`.
final class PrivateContainerd {
    let sandbox: Sandbox
    let dir: String
    let socket: String
    let image = "localhost/memguard/busybox:latest"
    private var daemon: ProcessRunner.Running?
    private let runContainerdExisted = FileSystem.exists("/run/containerd")
    private let cgroupsBefore: Set<String>

    init(sandbox: Sandbox) throws {
        self.sandbox = sandbox
        dir = "\(sandbox.root)/ctd"
        socket = "\(dir)/containerd.sock"
        cgroupsBefore = Self.namespaceCgroups()
        guard ProcessRunner.find("containerd") != nil, ProcessRunner.find("umoci") != nil else {
            throw MemguardError("containerd and umoci are needed: run ./install.sh")
        }
        try FileSystem.makeDirectories(dir)
        try buildImage()
        try FileSystem.writeAtomically("\(dir)/config.toml", """
            version = 2
            root = "\(dir)/root"
            state = "\(dir)/state"
            disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.devmapper"]
            [grpc]
              address = "\(socket)"

            """)
        // The shim runs memguard-runc with containerd's environment: that is how the hooks it
        // injects learn the sandbox's directories.
        daemon = try ProcessRunner.start(["containerd", "--config", "\(dir)/config.toml"], output: "\(dir)/containerd.log",
                                         environment: sandbox.wrapperEnvironment)
        let up = sandbox.waitFor(milliseconds: 10_000) { (try? self.ctr(["version"], output: "version")) == 0 }
        try #require(up, "containerd did not start: \((try? FileSystem.readText("\(dir)/containerd.log")) ?? "")")
        try #require(try ctr(["images", "import", "--base-name", "localhost/memguard/busybox", "\(dir)/image.tar"], output: "import") == 0,
                     "image import failed: \(output("import"))")
    }

    func ctr(_ args: [String], output name: String) throws -> Int32 {
        try ProcessRunner.run(["ctr", "--address", socket] + args, output: "\(dir)/\(name).out")
    }

    func output(_ name: String) -> String { (try? FileSystem.readText("\(dir)/\(name).out")) ?? "" }

    /// `ctr run --rm` through memguard-runc; returns the exit code and what the container printed.
    func run(_ id: String, annotations: [String: String], command: [String]) throws -> (exit: Int32, output: String) {
        var args = ["run", "--rm", "--runc-binary", sandbox.wrapper, "--runc-root", "\(dir)/runc", "--fifo-dir", "\(dir)/fifo"]
        for (key, value) in annotations.sorted(by: { $0.key < $1.key }) { args += ["--annotation", "\(key)=\(value)"] }
        let exit = try ctr(args + [image, id] + command, output: id)
        sandbox.waitForMonitorStop(id)
        return (exit, output(id))
    }

    private func buildImage() throws {
        let oci = "\(dir)/oci", bundle = "\(dir)/bundle"
        for step in [["umoci", "init", "--layout", oci], ["umoci", "new", "--image", "\(oci):latest"],
                     ["umoci", "unpack", "--image", "\(oci):latest", bundle]] {
            try #require(try ProcessRunner.run(step, output: "\(dir)/umoci.out") == 0, "\(step): \(output("umoci"))")
        }
        let rootfs = "\(bundle)/rootfs"
        for sub in ["bin", "proc", "sys", "dev", "tmp", "etc"] { try FileSystem.makeDirectories("\(rootfs)/\(sub)", mode: 0o755) }
        try DemoBundle.copy(sandbox.tools.busybox, to: "\(rootfs)/bin/busybox")
        for applet in ["sh", "echo", "sleep", "cat", "ls", "mkdir"] { symlink("busybox", "\(rootfs)/bin/\(applet)") }
        try DemoBundle.copy(sandbox.tools.attack, to: "\(rootfs)/mg-attack")
        for step in [["umoci", "repack", "--image", "\(oci):latest", bundle],
                     ["umoci", "config", "--image", "\(oci):latest", "--config.env", "PATH=/bin", "--config.cmd", "sh"],
                     ["tar", "-C", oci, "-cf", "\(dir)/image.tar", "."]] {
            try #require(try ProcessRunner.run(step, output: "\(dir)/umoci.out") == 0, "\(step): \(output("umoci"))")
        }
    }

    /// Stops containerd and removes what it and runc left: directories, mounts, cgroups.
    func stop() {
        if let daemon {
            kill(daemon.pid, SIGTERM)
            _ = ProcessRunner.wait(daemon)
            self.daemon = nil
        }
        _ = try? ProcessRunner.run(["sh", "-c", "findmnt -rn -o TARGET | grep '^\(dir)/' | sort -r | xargs -r -n1 umount -l"], output: "/dev/null")
        _ = try? ProcessRunner.run(["rm", "-rf", dir], output: "/dev/null")
        if !runContainerdExisted { _ = try? ProcessRunner.run(["rm", "-rf", "/run/containerd"], output: "/dev/null") }
        for cgroup in Self.namespaceCgroups().subtracting(cgroupsBefore) { rmdir(cgroup) }
    }

    deinit { stop() }

    /// runc's per-namespace parent cgroups (/sys/fs/cgroup/*/default).
    static func namespaceCgroups() -> Set<String> {
        Set(FileSystem.list("/sys/fs/cgroup").map { "/sys/fs/cgroup/\($0)/default" }.filter(FileSystem.exists))
    }
}

extension Integration {
    @Suite("A real containerd with memguard-runc as the runtime binary")
    struct Containerd {
        @Test("annotated containers are monitored and get their seccomp profile; others are untouched")
        func throughTheShim() throws {
            let sandbox = try Sandbox()
            let containerd = try PrivateContainerd(sandbox: sandbox)
            defer { containerd.stop() }

            let watched = sandbox.uniqueID("ctd-watched")
            let run = try containerd.run(watched, annotations: ["io.memguard.monitor": "true"], command: ["/mg-attack", "wx-mmap"])
            #expect(run.exit == 0 && run.output.contains("survived wx-mmap"), "\(run.output)")
            let log = try LogSummary(path: sandbox.logFile(watched))
            #expect(log.counts == [.wxMmap: 1])
            // The shim's delete ran runc delete, which ran poststop: the monitor's stop line
            // (before or after the hook's own line: the hook does not wait for the monitor).
            sandbox.waitForMonitorStop(watched)
            #expect(sandbox.logLines(watched).contains { $0.contains(#""event":"monitor-stop","reason":"poststop""#) }, "\(sandbox.logLines(watched))")

            let denied = sandbox.uniqueID("ctd-wxdeny")
            let deniedRun = try containerd.run(denied, annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp": "wx-deny"],
                                               command: ["/mg-attack", "wx-mprotect"])
            #expect(deniedRun.output.contains("attack-failed wx-mprotect: mprotect: Permission denied"), "\(deniedRun.output)")
            #expect(try LogSummary(path: sandbox.logFile(denied)).actions == ["denied": 1])

            let plain = sandbox.uniqueID("ctd-plain")
            let plainRun = try containerd.run(plain, annotations: [:], command: ["/mg-attack", "wx-mmap"])
            #expect(plainRun.exit == 0 && plainRun.output.contains("survived wx-mmap"))
            #expect(!FileSystem.exists(sandbox.logFile(plain)))

            containerd.stop()
            sandbox.expectNothingLeft()
        }
    }
}
