import Glibc
import MemguardCore
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("podman with the hooks.d entries from hooks/")
    struct Podman {
        /// The shipped hooks.d files, pointed at the built memguard and the sandbox's directories.
        func hooksDirectory(_ sandbox: Sandbox) throws -> String {
            let dir = "\(sandbox.root)/hooks.d"
            try FileSystem.makeDirectories(dir)
            for name in ["memguard-oci-hook.json", "memguard-oci-hook-poststop.json"] {
                let hook = try OCIConfig(bytes: FileSystem.readFile("\(TestHost.repository)/hooks/\(name)"), what: name)
                hook.set(["hook", "path"], string: sandbox.tools.memguard)
                hook.set(["hook", "env"], strings: sandbox.wrapperEnvironment)
                try FileSystem.writeAtomically("\(dir)/\(name)", hook.json)
            }
            return dir
        }

        func podman(_ sandbox: Sandbox, hooks: String, name: String, annotations: [String], command: [String]) throws -> (Int32, String) {
            let args = ["podman", "--root", "\(sandbox.root)/pm-root", "--runroot", "\(sandbox.root)/pm-run", "--hooks-dir", hooks,
                        "--cgroup-manager", "cgroupfs", "run", "--rm", "--name", name,
                        "--ulimit", "nofile=1024:20000", "--ulimit", "nproc=4096:4096"]
                + annotations.flatMap { ["--annotation", $0] } + ["--rootfs", "\(sandbox.root)/\(name)-rootfs"] + command
            let rootfs = "\(sandbox.root)/\(name)-rootfs"
            try FileSystem.makeDirectories("\(rootfs)/bin", mode: 0o755)
            try FileSystem.makeDirectories("\(rootfs)/tmp", mode: 0o755)
            try DemoBundle.copy(sandbox.tools.busybox, to: "\(rootfs)/bin/busybox")
            symlink("busybox", "\(rootfs)/bin/sh")
            try DemoBundle.copy(sandbox.tools.attack, to: "\(rootfs)/mg-attack")
            let exit = try ProcessRunner.run(args, output: "\(sandbox.root)/\(name).out")
            // podman names containers by a generated id: wait for every monitor to finish.
            _ = sandbox.waitFor { FileSystem.list(sandbox.paths.containersDir).isEmpty }
            return (exit, (try? FileSystem.readText("\(sandbox.root)/\(name).out")) ?? "")
        }

        @Test("the hooks directories podman reads by default hold memguard's entries (./install.sh puts them there)")
        func defaultHooksDirectory() throws {
            let sandbox = try Sandbox()
            _ = try ProcessRunner.run(["podman", "--help"], output: "\(sandbox.root)/podman-help.out")
            let help = try FileSystem.readText("\(sandbox.root)/podman-help.out")
            // "--hooks-dir strings  Set the OCI hooks directory path ... (default [DIR DIR])"
            let line = try #require(help.split(separator: "\n").first { $0.contains("--hooks-dir") }, "\(help)")
            let defaults = try #require(line.split(separator: "[").last?.split(separator: "]").first, "\(line)")
            let dirs = defaults.split(separator: " ").map(String.init)
            #expect(!dirs.isEmpty, "\(line)")
            for dir in dirs {
                for name in ["memguard-oci-hook.json", "memguard-oci-hook-poststop.json"] {
                    let hook = try JSONDocument(parsing: FileSystem.readFile("\(dir)/\(name)"), what: "\(dir)/\(name)")
                    let path = try #require(hook.root["hook"]?["path"]?.string, "\(dir)/\(name)")
                    #expect(access(path, X_OK) == 0, "\(dir)/\(name) names \(path), which is not executable")
                }
            }
        }

        @Test("an annotated podman container is monitored; an unannotated one is not")
        func hooksDirectoryWorks() throws {
            let sandbox = try Sandbox()
            try #require(ProcessRunner.find("podman") != nil, "podman is not installed: run ./install.sh")
            let hooks = try hooksDirectory(sandbox)
            defer {
                _ = try? ProcessRunner.run(["sh", "-c", "findmnt -rn -o TARGET | grep '^\(sandbox.root)/pm-' | sort -r | xargs -r -n1 umount -l"], output: "/dev/null")
            }
            let (exit, output) = try podman(sandbox, hooks: hooks, name: "pm-watched", annotations: ["io.memguard.monitor=true"],
                                            command: ["/mg-attack", "wx-mmap"])
            #expect(exit == 0 && output.contains("survived wx-mmap"), "\(output)")
            let logs = FileSystem.list(sandbox.paths.logDir)
            try #require(logs.count == 1, "\(logs)")
            let log = try LogSummary(path: "\(sandbox.paths.logDir)/\(logs[0])")
            #expect(log.counts == [.wxMmap: 1] && log.stopped)

            let (plainExit, plainOutput) = try podman(sandbox, hooks: hooks, name: "pm-plain", annotations: [], command: ["/mg-attack", "wx-mmap"])
            #expect(plainExit == 0 && plainOutput.contains("survived wx-mmap"))
            #expect(FileSystem.list(sandbox.paths.logDir).count == 1)
            sandbox.expectNothingLeft()
        }
    }
}
