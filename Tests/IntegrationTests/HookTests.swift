import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo
@testable import MemguardHook

/// A `sleep` in a cgroup of its own: a stand-in container init for calling the hook
/// directly (real cgroup, real kernel programs; no runtime).
final class CgroupedSleeper {
    let process: ProcessRunner.Running
    let cgroupDir: String

    /// A sleeper in a cgroup of its own, below `parent` (a cgroup directory) if given.
    init(root: String, under parent: String? = nil) throws {
        process = try ProcessRunner.start(["sleep", "30"], output: "/dev/null")
        let unified = try ContainerScope.cgroup2Mount(mountInfo: FileSystem.readText("/proc/self/mountinfo"))
        cgroupDir = "\(parent ?? unified)/memguard-test-\(process.pid)"
        try FileSystem.makeDirectories(cgroupDir, mode: 0o755)
        let fd = open("\(cgroupDir)/cgroup.procs", O_WRONLY)
        _ = try FileSystem.writeAll(fd: fd, Array("\(process.pid)".utf8), what: "cgroup.procs")
        close(fd)
    }

    var pid: Int32 { process.pid }

    deinit {
        kill(process.pid, SIGKILL)
        _ = ProcessRunner.wait(process)
        rmdir(cgroupDir)
    }
}

/// Alive and not a zombie (a killed child of the test stays one until it is waited for).
func isRunning(_ pid: Int32) -> Bool {
    guard let stat = try? FileSystem.readText("/proc/\(pid)/stat", limit: 4096),
          let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

extension Sandbox {
    struct HookResult {
        var exit: Int32
        var output: String
    }

    /// Runs `memguard hook <stage>` with `stdin` as the state, the sandbox's paths and any
    /// `environment` overrides (later entries win), under `wrapper` (e.g. strace) if given.
    func hook(_ stage: String, stdin: [UInt8], environment: [String] = [], wrapper: [String] = []) throws -> HookResult {
        let input = "\(root)/stdin-\(Clock.nanoseconds(CLOCK_MONOTONIC))"
        let fd = open(input, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        try FileSystem.writeAll(fd: fd, stdin, what: input)
        close(fd)
        let output = input + ".out"
        let overridden = Set(environment.map { $0.prefix { $0 != "=" } })
        let env = (paths.environment + hookEnvironment).filter { !overridden.contains($0.prefix { $0 != "=" }) } + environment
        let process = try ProcessRunner.start(wrapper + [tools.memguard, "hook", stage], output: output, environment: env, stdin: input)
        let exit = ProcessRunner.wait(process)
        return HookResult(exit: exit, output: (try? FileSystem.readText(output)) ?? "")
    }

    func state(id: String, pid: Int32?, annotations: [String: String] = ["io.memguard.monitor": "true"]) -> [UInt8] {
        var line = JSONLine()
        line.add("ociVersion", "1.0.2")
        line.add("id", id)
        line.add("status", pid == nil ? "stopped" : "creating")
        if let pid { line.add("pid", pid) }
        line.add("bundle", root)
        var notes = JSONLine()
        for (k, v) in annotations { notes.add(k, v) }
        line.add("annotations", object: notes)
        return Array(line.rendered.utf8)
    }
}

extension Integration {
    @Suite("The hook's failure paths, each with a clear error and nothing left")
    struct HookFailures {
        @Test(arguments: [
            ("not json", "not valid JSON"),
            (#"{"ociVersion":"1","status":"creating"}"#, #"no "id""#),
            (#"{"ociVersion":"1","id":"x","status":"creating","annotations":"io.memguard.monitor"}"#, #""annotations" is a string"#),
            ("", "is empty"),
        ])
        func malformedStateIsRefused(input: String, message: String) throws {
            let sandbox = try Sandbox()
            let result = try sandbox.hook("createRuntime", stdin: Array(input.utf8))
            #expect(result.exit == 1)
            #expect(result.output.contains("memguard hook createRuntime:") && result.output.contains(message), "\(result.output)")
            #expect(FileSystem.list(sandbox.paths.logDir).isEmpty)
            sandbox.expectNothingLeft()
        }

        @Test func hugeStateIsRefused() throws {
            let sandbox = try Sandbox()
            let huge = Array(#"{"id":""#.utf8) + [UInt8](repeating: 0x61, count: 3 << 20) + Array(#""}"#.utf8)
            let result = try sandbox.hook("createRuntime", stdin: huge)
            #expect(result.exit == 1)
            #expect(result.output.contains("larger than"), "\(result.output)")
            sandbox.expectNothingLeft()
        }

        @Test("a monitor with a SIGKILL pending or exiting counts as gone (poststop tears down for it)")
        func dyingMonitorIsGone() throws {
            let sandbox = try Sandbox()
            let child = try ProcessRunner.start(["sleep", "30"], output: "/dev/null")
            #expect(!MonitorHandle.isDying(child.pid))
            #expect(kill(child.pid, SIGKILL) == 0)
            // Not reaped yet: a zombie until waited for.
            #expect(sandbox.waitFor(milliseconds: 2000) { MonitorHandle.isDying(child.pid) })
            _ = ProcessRunner.wait(child)
            #expect(MonitorHandle.isDying(child.pid))
            sandbox.expectNothingLeft()
        }

        /// strace running the hook with `arguments` (fault injection into real processes).
        static func strace(_ arguments: [String]) throws -> [String] {
            let strace = try #require(["/usr/bin/strace", "/bin/strace"].first { (path: String) in access(path, X_OK) == 0 },
                                      "strace is missing: run ./install.sh")
            return [strace, "-qq", "-o", "/dev/null"] + arguments
        }

        /// strace (not following forks, so only the hook) makes the hook's hand-over to the
        /// monitor, its only sendto, fail or die: real processes, real kernel programs.
        static func interceptHandOver(_ action: String) throws -> [String] {
            try strace(["-e", "trace=sendto", "-e", "inject=sendto:\(action)"])
        }

        @Test("a hand-over to the monitor that fails kills the monitor and undoes the registration")
        func failedHandOver() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "handover", pid: sleeper.pid),
                                          wrapper: Self.interceptHandOver("error=EPIPE"))
            #expect(result.exit == 1)
            #expect(result.output.contains("handing over to the monitor") && result.output.contains("Broken pipe"), "\(result.output)")
            #expect(Leftovers.monitorProcesses().isEmpty)
            #expect(!FileSystem.exists(sandbox.paths.stateFile(for: try ContainerID("handover"))))
            // The log says why the monitor that was announced never ran.
            let last = sandbox.logLines("handover").last ?? ""
            #expect(last.contains(#""result":"error""#) && last.contains("handing over to the monitor"), "\(last)")
            sandbox.expectNothingLeft()
        }

        @Test("a hook killed after forking the monitor: the monitor tears down and says why")
        func hookKilledAtHandOver() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "orphaned", pid: sleeper.pid),
                                          wrapper: Self.interceptHandOver("signal=KILL"))
            #expect(result.exit != 0)
            let stopped = sandbox.waitFor { sandbox.logLines("orphaned").last?.contains(#""event":"monitor-stop""#) == true }
            let lines = sandbox.logLines("orphaned")
            #expect(stopped, "\(lines)")
            #expect(lines.first?.contains(#""event":"monitor-start""#) == true, "\(lines)")
            #expect(lines.last?.contains("hook-ended-before-start") == true, "\(lines)")
            #expect(sandbox.waitFor { Leftovers.monitorProcesses().isEmpty })
            sandbox.expectNothingLeft()
        }

        /// strace following the fork into the monitor, failing its epoll_create1 (the first
        /// call of ring_buffer__new; the hook makes none): a monitor that cannot read its ring.
        static let failMonitorRing = ["-f", "-e", "trace=epoll_create1", "-e", "inject=epoll_create1:error=EMFILE"]

        @Test("a monitor that cannot open its ring: failure=closed kills the container, failure=open lets it run, both say so")
        func monitorSetupFails() throws {
            for failure in ["closed", "open"] {
                let sandbox = try Sandbox()
                let sleeper = try CgroupedSleeper(root: sandbox.root)
                if failure == "open" { try sandbox.hostPolicy(#"{"failure":"open"}"#) }
                let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "nosetup", pid: sleeper.pid),
                                              wrapper: Self.strace(Self.failMonitorRing))
                #expect(result.exit == 0, "\(result.output)")
                let lines = sandbox.logLines("nosetup")
                let error = lines.first { $0.contains(#""event":"monitor-error""#) } ?? ""
                #expect(error.contains("opening the ring buffer") && error.contains("Too many open files"), "\(lines)")
                #expect(error.contains(#""failure":"\#(failure)""#), "\(error)")
                #expect(lines.last?.contains("monitor-setup-failed") == true, "\(lines)")
                #expect(!FileSystem.exists(sandbox.paths.stateFile(for: try ContainerID("nosetup"))))
                if failure == "closed" {
                    #expect(error.contains(#""action":"container-killed""#), "\(error)")
                    #expect(sandbox.waitFor { !isRunning(sleeper.pid) }, "the container still runs")
                } else {
                    #expect(error.contains("UNMONITORED"), "\(error)")
                    #expect(isRunning(sleeper.pid), "the container was killed under failure=open")
                }
                #expect(Leftovers.monitorProcesses().isEmpty)
                sandbox.expectNothingLeft()
            }
        }

        @Test func notOptedInIsANoOp() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "plain", pid: sleeper.pid, annotations: ["a": "b"]))
            #expect(result.exit == 0 && result.output.isEmpty)
            #expect(!FileSystem.exists(sandbox.paths.logDir))
            #expect(KernelObjects.current().isEmpty)
            sandbox.expectNothingLeft()
        }

        @Test func misspeltModeIsRefused() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let state = sandbox.state(id: "m", pid: sleeper.pid, annotations: ["io.memguard.monitor": "true", "io.memguard.mode": "enforcing"])
            let result = try sandbox.hook("createRuntime", stdin: state)
            #expect(result.exit == 1)
            #expect(result.output.contains("io.memguard.mode='enforcing' is not one of audit, enforce"), "\(result.output)")
            sandbox.expectNothingLeft()
        }

        @Test func missingPidIsRefused() throws {
            let sandbox = try Sandbox()
            let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "nopid", pid: nil))
            #expect(result.exit == 1)
            #expect(result.output.contains("container nopid: the OCI state has no pid"), "\(result.output)")
            #expect(sandbox.logLines("nopid").last?.contains(#""result":"error""#) == true)
            sandbox.expectNothingLeft()
        }

        @Test func processInTheRootCgroupIsRefused() throws {
            let sandbox = try Sandbox()
            let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "root", pid: 1))
            #expect(result.exit == 1)
            #expect(result.output.contains("root cgroup v2 directory") || result.output.contains("no cgroup v2"), "\(result.output)")
            sandbox.expectNothingLeft()
        }

        /// A broken prerequisite: the pin directory off bpffs, or no kernel BTF.
        @Test(arguments: [
            ("MEMGUARD_PIN_DIR", "pins", "is not on a bpf filesystem"),
            ("MEMGUARD_BTF", "no-vmlinux", "kernel BTF not found at"),
        ])
        func brokenPrerequisiteIsRefused(variable: String, file: String, message: String) throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let path = "\(sandbox.root)/\(file)"
            let result = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "broken", pid: sleeper.pid),
                                          environment: ["\(variable)=\(path)"])
            #expect(result.exit == 1)
            #expect(result.output.contains("container broken:") && result.output.contains(message), "\(result.output)")
            #expect(!FileSystem.exists(path))
            #expect(sandbox.logLines("broken").last?.contains(message) == true)
            sandbox.expectNothingLeft()
        }

        @Test func hostileIdStaysInsideTheLogDirectory() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let id = "../../escape\nx"
            let start = try sandbox.hook("createRuntime", stdin: sandbox.state(id: id, pid: sleeper.pid))
            #expect(start.exit == 0, "\(start.output)")
            #expect(FileSystem.list(sandbox.paths.logDir) == ["%2E.%2F..%2Fescape%0Ax.log"])
            #expect(!FileSystem.exists("\(sandbox.root)/escape\nx.log"))
            let stop = try sandbox.hook("poststop", stdin: sandbox.state(id: id, pid: nil))
            #expect(stop.exit == 0, "\(stop.output)")
            sandbox.waitForMonitorStop(id)
            let lines = sandbox.logLines(id)
            #expect(lines.suffix(2).contains { $0.contains(#""reason":"poststop""#) }, "\(lines)")
            #expect(lines.allSatisfy { $0.contains(#""container":"../../escape\nx""#) })
            sandbox.expectNothingLeft()
        }

        @Test func poststopTwiceAndForAStrangerAreSafe() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            #expect(try sandbox.hook("createRuntime", stdin: sandbox.state(id: "twice", pid: sleeper.pid)).exit == 0)
            #expect(try sandbox.hook("createRuntime", stdin: sandbox.state(id: "twice", pid: sleeper.pid)).exit == 0)
            #expect(sandbox.logLines("twice").contains { $0.contains(#""result":"already-monitored""#) })
            #expect(try sandbox.hook("poststop", stdin: sandbox.state(id: "twice", pid: nil)).exit == 0)
            sandbox.waitForMonitorStop("twice")
            #expect(try sandbox.hook("poststop", stdin: sandbox.state(id: "twice", pid: nil)).exit == 0)
            #expect(sandbox.logLines("twice").last?.contains(#""result":"not-monitored""#) == true)
            let stranger = try sandbox.hook("poststop", stdin: sandbox.state(id: "never-seen", pid: nil))
            #expect(stranger.exit == 0 && stranger.output.isEmpty)
            #expect(!FileSystem.exists(sandbox.logFile("never-seen")))
            sandbox.expectNothingLeft()
        }
    }
}

extension Integration {
    @Suite("A pinned set left by a crash or another version")
    struct ForeignPins {
        /// Pins a map named mg_scopes with `entries` keys, as a stale or foreign set would.
        func pinForeignScopes(_ sandbox: Sandbox, entries: Int) throws {
            try FileSystem.makeDirectories(sandbox.paths.pinDir, mode: 0o700)
            let pin = "\(sandbox.paths.pinDir)/mg_scopes"
            let created = try ProcessRunner.run(["bpftool", "map", "create", pin, "type", "hash", "key", "8", "value", "8",
                                                 "entries", "4", "name", "mg_scopes"], output: "\(sandbox.root)/bpftool.out")
            try #require(created == 0, "bpftool map create failed: \((try? FileSystem.readText("\(sandbox.root)/bpftool.out")) ?? "")")
            for key in 0..<entries {
                let bytes = (0..<8).map { String($0 == 0 ? key + 1 : 0) }
                _ = try ProcessRunner.run(["bpftool", "map", "update", "pinned", pin, "key"] + bytes + ["value"] + Array(repeating: "0", count: 8),
                                          output: "\(sandbox.root)/bpftool.out")
            }
        }

        @Test func aHalfPinnedUnusedSetIsReplaced() throws {
            let sandbox = try Sandbox()
            try pinForeignScopes(sandbox, entries: 0)
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let start = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "heal", pid: sleeper.pid))
            #expect(start.exit == 0, "\(start.output)")
            #expect(try sandbox.hook("poststop", stdin: sandbox.state(id: "heal", pid: nil)).exit == 0)
            sandbox.waitForMonitorStop("heal")
            sandbox.expectNothingLeft()
        }

        @Test func aForeignSetInUseIsNeverRemoved() throws {
            let sandbox = try Sandbox()
            try pinForeignScopes(sandbox, entries: 1)
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let start = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "foreign", pid: sleeper.pid))
            #expect(start.exit == 1)
            #expect(start.output.contains("still watches 1 container(s)"), "\(start.output)")
            #expect(FileSystem.exists("\(sandbox.paths.pinDir)/mg_scopes"))
            try ProbeSet.removePins(paths: sandbox.paths)
            sandbox.expectNothingLeft()
        }
    }
}
