import CMemguardABI
import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("Lifecycle without the happy path")
    struct Lifecycle {
        @Test("a container killed and never deleted is cleaned up by its monitor")
        func killedNeverDeleted() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("orphan", command: ["/mg-attack", "wx-mmap", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            #expect(sandbox.waitFor { sandbox.logLines(bundle.id).contains { $0.contains(#""event":"wx-mmap""#) } })
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            let stopped = sandbox.waitFor { sandbox.logLines(bundle.id).last?.contains(#""event":"monitor-stop""#) == true }
            #expect(stopped, "\(sandbox.logLines(bundle.id))")
            #expect(sandbox.logLines(bundle.id).last?.contains("container-exited-without-poststop") == true)
            sandbox.expectNothingLeft()
            // A late delete runs poststop, which finds nothing left to do.
            #expect(try sandbox.runc("delete", bundle.id) == 0)
            #expect(sandbox.logLines(bundle.id).last?.contains(#""result":"not-monitored""#) == true)
            sandbox.expectNothingLeft()
        }

        @Test("a monitor killed with SIGKILL is torn down by poststop")
        func monitorKilled() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("lost", command: ["/mg-attack", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            let state = try #require(try StateRecord.load(sandbox.paths.stateFile(for: ContainerID(bundle.id))))
            #expect(kill(state.monitorPID, SIGKILL) == 0)
            #expect(sandbox.waitFor { Leftovers.monitorProcesses().isEmpty })
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", bundle.id)) == 0 })
            let last = sandbox.logLines(bundle.id).last ?? ""
            #expect(last.contains(#""event":"monitor-stop""#) && last.contains("monitor-lost"), "\(last)")
            #expect(sandbox.logLines(bundle.id).contains { $0.contains(#""result":"monitor-lost""#) })
            sandbox.expectNothingLeft()
        }

        @Test("a lost monitor's unread events reach its own log at poststop; the pooled ring then serves the next container")
        func ringPool() throws {
            let sandbox = try Sandbox()
            let keeper = try sandbox.bundle("keeper", command: ["/mg-attack", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(keeper, detached: true)) == 0)
            // The first container's monitor is killed before its 20 violations, which stay
            // unread in its ring until poststop reads them into its log.
            let first = try sandbox.bundle("first", command: ["/mg-attack", "sleep", "0.5", "loop", "wx-mmap", "20", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(first, detached: true)) == 0)
            let state = try #require(try StateRecord.load(sandbox.paths.stateFile(for: ContainerID(first.id))))
            #expect(kill(state.monitorPID, SIGKILL) == 0)
            do {
                let scopes = try BPFMap(pinned: "\(sandbox.paths.pinDir)/mg_scopes")
                #expect(sandbox.waitFor { scopes.lookup(key: state.cgroupID, as: mg_scope.self)?.eventCounts.first { $0.kind == .wxMmap }?.count == 20 })
            }
            #expect(try sandbox.runc("kill", first.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", first.id)) == 0 })
            let firstLog = try LogSummary(path: sandbox.logFile(first.id))
            #expect(firstLog.counts == [.wxMmap: 20], "\(sandbox.logLines(first.id))")
            let stop = sandbox.logLines(first.id).last ?? ""
            #expect(stop.contains("monitor-lost") && stop.contains(#""read_by_poststop":20,"lost":0"#), "\(stop)")

            // The next container gets that ring (the lowest spare), with nothing of the first's in it.
            let second = try sandbox.run(sandbox.bundle("second", command: ["/mg-attack", "wx-mmap"]))
            #expect(second.exit == 0 && second.log?.counts == [.wxMmap: 1], "\(second.logText)")
            #expect(!second.logText.contains("dropped_previous_owner"), "\(second.logText)")

            // A steady stream of containers inserts and deletes no ring at all.
            func ringIDs() throws -> Set<UInt32> {
                let rings = try BPFMap(pinned: "\(sandbox.paths.pinDir)/mg_rings")
                return Set(rings.keys(UInt32.self).compactMap { rings.lookup(key: $0, as: UInt32.self) })
            }
            let before = try ringIDs()
            for i in 0..<3 {
                let run = try sandbox.run(sandbox.bundle("steady\(i)", command: ["/mg-attack", "wx-mmap"]))
                #expect(run.exit == 0 && run.log?.counts == [.wxMmap: 1], "\(run.logText)")
                #expect(!run.logText.contains("dropped_previous_owner"), "\(run.logText)")
            }
            #expect(try ringIDs() == before)
            #expect(before.count <= 1 + ContainerProbe.maxSpareRings, "\(before)")

            #expect(try sandbox.runc("kill", keeper.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", keeper.id)) == 0 })
            sandbox.waitForMonitorStop(keeper.id)
            sandbox.expectNothingLeft()
        }

        @Test("the monitor's heap is capped, and it runs outside the container's cgroup")
        func monitorLimits() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("capped", command: ["/mg-attack", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            let state = try #require(try StateRecord.load(sandbox.paths.stateFile(for: ContainerID(bundle.id))))
            let limits = try FileSystem.readText("/proc/\(state.monitorPID)/limits")
            let data = limits.split(separator: "\n").first { $0.hasPrefix("Max data size") }.map { $0.split(separator: " ", omittingEmptySubsequences: true) }
            #expect(data?.dropFirst(3).first == Substring("\(MonitorLimits.dataBytes)"), "\(limits)")
            let cgroups = try FileSystem.readText("/proc/\(state.monitorPID)/cgroup")
            #expect(!cgroups.contains(state.cgroupPath), "\(cgroups)")
            #expect(sandbox.logLines(bundle.id).first?.contains(#""monitor_data_limit":\#(MonitorLimits.dataBytes)"#) == true)
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", bundle.id)) == 0 })
            sandbox.waitForMonitorStop(bundle.id)
            sandbox.expectNothingLeft()
        }

        @Test("nested monitored cgroups: a process belongs to the nearest monitored one, not the outermost")
        func nestedScopes() throws {
            let sandbox = try Sandbox()
            do {
                let outer = try CgroupedSleeper(root: sandbox.root)
                let inner = try CgroupedSleeper(root: sandbox.root, under: outer.cgroupDir)
                for (id, pid) in [("outer", outer.pid), ("inner", inner.pid)] {
                    let start = try sandbox.hook("createRuntime", stdin: sandbox.state(id: id, pid: pid))
                    #expect(start.exit == 0, "\(start.output)")
                }
                // A process in a cgroup below the inner container's (as its own sub-cgroup would be).
                let sub = "\(inner.cgroupDir)/sub"
                #expect(mkdir(sub, 0o755) == 0)
                let out = "\(sandbox.root)/nested.out"
                let exit = try ProcessRunner.run(["/bin/sh", "-c", "echo $$ > \(sub)/cgroup.procs && exec \(sandbox.tools.attack) wx-mmap"], output: out)
                #expect(exit == 0, "\((try? FileSystem.readText(out)) ?? "")")
                for id in ["inner", "outer"] {
                    #expect(try sandbox.hook("poststop", stdin: sandbox.state(id: id, pid: nil)).exit == 0)
                    sandbox.waitForMonitorStop(id)
                }
                rmdir(sub)
                #expect(try LogSummary(path: sandbox.logFile("inner")).counts == [.wxMmap: 1], "\(sandbox.logLines("inner"))")
                #expect(try LogSummary(path: sandbox.logFile("outer")).total == 0, "\(sandbox.logLines("outer"))")
                withExtendedLifetime(outer) {}
            }
            sandbox.expectNothingLeft()
        }

        @Test("a stopped monitor (SIGSTOP) still stops at poststop, with its events")
        func stoppedMonitor() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("stopped", command: ["/mg-attack", "sleep", "0.3", "wx-mmap", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            let state = try #require(try StateRecord.load(sandbox.paths.stateFile(for: ContainerID(bundle.id))))
            #expect(kill(state.monitorPID, SIGSTOP) == 0)
            usleep(600_000)
            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", bundle.id)) == 0 })
            sandbox.waitForMonitorStop(bundle.id)
            let log = try LogSummary(path: sandbox.logFile(bundle.id))
            #expect(log.counts == [.wxMmap: 1] && log.stopped, "\(sandbox.logLines(bundle.id))")
            sandbox.expectNothingLeft()
        }

        @Test("a container cgroup 14 levels deep: its sub-cgroups' processes are its own; deeper than 32 is refused")
        func deepCgroups() throws {
            let sandbox = try Sandbox()
            let unified = try ContainerScope.cgroup2Mount(mountInfo: FileSystem.readText("/proc/self/mountinfo"))
            let top = "\(unified)/memguard-test-deep-\(getpid())"
            var chain = [top]
            for level in 2...13 { chain.append("\(chain.last!)/l\(level)") }
            for dir in chain { #expect(mkdir(dir, 0o755) == 0 || errno == EEXIST) }
            defer { for dir in chain.reversed() { rmdir(dir) } }
            do {
                let deep = try CgroupedSleeper(root: sandbox.root, under: chain.last!)
                let start = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "deep", pid: deep.pid))
                #expect(start.exit == 0, "\(start.output)")
                let sub = "\(deep.cgroupDir)/sub"
                #expect(mkdir(sub, 0o755) == 0)
                let out = "\(sandbox.root)/deep.out"
                let exit = try ProcessRunner.run(["/bin/sh", "-c", "echo $$ > \(sub)/cgroup.procs && exec \(sandbox.tools.attack) wx-mmap"], output: out)
                #expect(exit == 0, "\((try? FileSystem.readText(out)) ?? "")")
                #expect(try sandbox.hook("poststop", stdin: sandbox.state(id: "deep", pid: nil)).exit == 0)
                sandbox.waitForMonitorStop("deep")
                rmdir(sub)
                #expect(try LogSummary(path: sandbox.logFile("deep")).counts == [.wxMmap: 1], "\(sandbox.logLines("deep"))")

                var deeper = [deep.cgroupDir]
                for level in 15...33 { deeper.append("\(deeper.last!)/m\(level)") }
                for dir in deeper.dropFirst() { #expect(mkdir(dir, 0o755) == 0) }
                defer { for dir in deeper.dropFirst().reversed() { rmdir(dir) } }
                let tooDeep = try CgroupedSleeper(root: sandbox.root, under: deeper.last!)
                let refused = try sandbox.hook("createRuntime", stdin: sandbox.state(id: "too-deep", pid: tooDeep.pid))
                #expect(refused.exit == 1 && refused.output.contains("levels deep"), "\(refused.output)")
            }
            sandbox.expectNothingLeft()
        }

        @Test("a process of an outer container moved into a nested container's cgroup stays the outer one's")
        func movedIntoNestedContainer() throws {
            let sandbox = try Sandbox()
            let outerPath = "/memguard-test-outer-\(getpid())"
            func bundle(_ name: String, cgroupsPath: String) throws -> DemoBundle {
                let b = try sandbox.bundle(name, command: ["/mg-attack", "sleep", "30"])
                let path = "\(b.directory)/config.json"
                let config = try OCIConfig(bytes: FileSystem.readFile(path), what: path)
                config.set(["linux", "cgroupsPath"], string: cgroupsPath)
                try FileSystem.writeAtomically(path, config.json)
                return b
            }
            let outer = try bundle("outer", cgroupsPath: outerPath)
            let inner = try bundle("inner", cgroupsPath: "\(outerPath)/inner")
            for b in [outer, inner] { #expect(ProcessRunner.wait(try sandbox.start(b, detached: true)) == 0) }
            // A process of the outer container, moved into the inner one's cgroup before it attacks.
            let pidFile = "\(sandbox.root)/moved.pid"
            #expect(try sandbox.runc("exec", "-d", "--pid-file", pidFile, outer.id, "/mg-attack", "sleep", "1", "wx-mmap", "sleep", "30") == 0)
            let pid = try FileSystem.readText(pidFile).split(separator: "\n").first.map(String.init) ?? ""
            let unified = try ContainerScope.cgroup2Mount(mountInfo: FileSystem.readText("/proc/self/mountinfo"))
            let fd = open("\(unified)\(outerPath)/inner/cgroup.procs", O_WRONLY)
            #expect(fd >= 0)
            _ = try? FileSystem.writeAll(fd: fd, Array(pid.utf8), what: "cgroup.procs")
            close(fd)
            #expect(sandbox.waitFor { sandbox.logLines(outer.id).contains { $0.contains(#""event":"wx-mmap""#) } }, "\(sandbox.logLines(outer.id))")
            for b in [inner, outer] {
                #expect(try sandbox.runc("kill", b.id, "KILL") == 0)
                #expect(sandbox.waitFor { (try? sandbox.runc("delete", b.id)) == 0 })
                sandbox.waitForMonitorStop(b.id)
            }
            #expect(try LogSummary(path: sandbox.logFile(inner.id)).total == 0, "\(sandbox.logLines(inner.id))")
            rmdir("\(unified)\(outerPath)")
            sandbox.expectNothingLeft()
        }

        @Test("two poststops at once for a lost monitor: one teardown, one stop line")
        func concurrentPoststop() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            #expect(try sandbox.hook("createRuntime", stdin: sandbox.state(id: "twice", pid: sleeper.pid)).exit == 0)
            let record = try #require(try StateRecord.load(sandbox.paths.stateFile(for: ContainerID("twice"))))
            #expect(kill(record.monitorPID, SIGKILL) == 0)
            #expect(sandbox.waitFor { Leftovers.monitorProcesses().isEmpty })
            let stop = "\(sandbox.root)/twice-stop.json"
            try FileSystem.writeAtomically(stop, String(decoding: sandbox.state(id: "twice", pid: nil), as: UTF8.self))
            let env = sandbox.paths.environment + sandbox.hookEnvironment
            let hook = "\(sandbox.tools.memguard) hook poststop < \(stop)"
            #expect(ProcessRunner.wait(try ProcessRunner.start(["/bin/sh", "-c", "\(hook) & \(hook); wait"], output: "\(sandbox.root)/twice.out", environment: env)) == 0)
            sandbox.waitForMonitorStop("twice")
            let stops = sandbox.logLines("twice").filter { $0.contains(#""event":"monitor-stop""#) }
            #expect(stops.count == 1, "\(sandbox.logLines("twice"))")
            withExtendedLifetime(sleeper) {}
            sandbox.expectNothingLeft()
        }

        @Test("a container without the opt-in annotation is left alone")
        func notOptedIn() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("plain", command: ["/mg-attack", "wx-mmap", "sleep", "0.5"], annotations: ["other": "x"])
            let process = try sandbox.start(bundle)
            #expect(sandbox.waitFor(milliseconds: 400) { !KernelObjects.current().isEmpty } == false,
                    "programs were loaded for a container that did not opt in")
            let run = sandbox.finish(bundle, exit: ProcessRunner.wait(process))
            #expect(run.exit == 0)
            #expect(!FileSystem.exists(sandbox.logFile(bundle.id)))
            #expect(FileSystem.list(sandbox.paths.logDir).isEmpty)
            sandbox.expectNothingLeft()
        }
    }
}
