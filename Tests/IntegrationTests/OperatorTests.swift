import Glibc
import MemguardCore
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("Metrics and the operator's commands")
    struct Operator {
        /// A free TCP port on loopback (bind to 0, read it back).
        static func freePort() -> UInt16 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
            _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
            return UInt16(bigEndian: addr.sin_port)
        }

        func memguard(_ sandbox: Sandbox, _ args: [String], name: String) throws -> (Int32, String) {
            let out = "\(sandbox.root)/\(name).cli"
            let exit = try ProcessRunner.run([sandbox.tools.memguard] + args + ["--log-dir", sandbox.paths.logDir, "--state-dir", sandbox.paths.stateDir,
                                                                               "--pin-dir", sandbox.paths.pinDir, "--config-dir", sandbox.paths.configDir],
                                             output: out)
            return (exit, (try? FileSystem.readText(out)) ?? "")
        }

        @Test("prometheus-node-exporter scrapes a running container's metrics; they go with the container")
        func nodeExporterScrapes() throws {
            let sandbox = try Sandbox()
            try #require(ProcessRunner.find("prometheus-node-exporter") != nil && ProcessRunner.find("curl") != nil,
                         "prometheus-node-exporter and curl are needed: run ./install.sh")
            try sandbox.hostPolicy(#"{"thresholds":{"sample_interval_ms":50}}"#)
            let bundle = try sandbox.bundle("metrics", command: ["/mg-attack", "wx-mmap", "wx-mmap", "sleep", "30"])
            #expect(ProcessRunner.wait(try sandbox.start(bundle, detached: true)) == 0)
            let file = sandbox.paths.metricsFile(for: try ContainerID(bundle.id))
            #expect(sandbox.waitFor { ((try? FileSystem.readText(file)) ?? "").contains("kind=\"wx-mmap\",action=\"logged\"} 2") }, "\((try? FileSystem.readText(file)) ?? "no file")")

            let port = Self.freePort()
            let exporter = try ProcessRunner.start(["prometheus-node-exporter", "--web.listen-address=127.0.0.1:\(port)",
                                                    "--collector.disable-defaults", "--collector.textfile",
                                                    "--collector.textfile.directory=\(sandbox.paths.metricsDir)"],
                                                   output: "\(sandbox.root)/exporter.out")
            defer { kill(exporter.pid, SIGTERM); _ = ProcessRunner.wait(exporter) }
            var scraped = ""
            _ = sandbox.waitFor {
                _ = try? ProcessRunner.run(["curl", "-sf", "http://127.0.0.1:\(port)/metrics"], output: "\(sandbox.root)/scrape.out")
                scraped = (try? FileSystem.readText("\(sandbox.root)/scrape.out", limit: 8 << 20)) ?? ""
                return scraped.contains("memguard_events_total")
            }
            let lines = scraped.split(separator: "\n").filter { $0.hasPrefix("memguard_") }
            #expect(lines.contains { $0.hasPrefix("memguard_events_total{") && $0.contains("container=\"\(bundle.id)\"")
                && $0.contains("kind=\"wx-mmap\"") && $0.contains("action=\"logged\"") && $0.hasSuffix(" 2") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("memguard_mmap_calls_total{container=\"\(bundle.id)\"}") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("memguard_monitor_resident_bytes{container=\"\(bundle.id)\"}") })
            #expect(lines.contains { $0.hasPrefix("memguard_working_set_bytes{container=\"\(bundle.id)\"}") })
            #expect(lines.contains { $0.hasPrefix("memguard_events_lost_total{container=\"\(bundle.id)\"} 0") })

            // The operator's view of the same container.
            let (psExit, ps) = try memguard(sandbox, ["ps", "--json"], name: "ps")
            #expect(psExit == 0)
            let rows = try JSONDocument(parsing: Array(ps.utf8), what: "ps --json").root.elements
            #expect(rows.count == 1 && rows.first?["container"]?.string == bundle.id && rows.first?["events"]?.int64 == 2, "\(ps)")
            #expect(rows.first?["monitor_alive"]?.bool == true)
            let (logsExit, logs) = try memguard(sandbox, ["logs", bundle.id], name: "logs")
            #expect(logsExit == 0 && logs.contains(#""event":"monitor-start""#) && logs.contains(#""event":"wx-mmap""#))

            #expect(try sandbox.runc("kill", bundle.id, "KILL") == 0)
            #expect(sandbox.waitFor { (try? sandbox.runc("delete", bundle.id)) == 0 })
            sandbox.waitForMonitorStop(bundle.id)
            #expect(!FileSystem.exists(file))
            let (_, psAfter) = try memguard(sandbox, ["ps", "--json"], name: "ps-after")
            #expect(psAfter.trimmingSuffixNewline == "[]")
            sandbox.expectNothingLeft()
        }

        @Test("doctor reports every prerequisite and exits 0 on a good host; every command has --help")
        func doctorAndHelp() throws {
            let sandbox = try Sandbox()
            let (exit, json) = try memguard(sandbox, ["doctor", "--json"], name: "doctor")
            let checks = try JSONDocument(parsing: Array(json.utf8), what: "doctor --json").root.elements
            let failing = checks.filter { $0["status"]?.string == "fail" }.map { $0.jsonText }
            #expect(exit == 0, "\(failing)")
            let names = Set(checks.compactMap { $0["check"]?.string })
            #expect(names.isSuperset(of: ["kernel BTF", "bpffs", "cgroup v2", "BPF programs", "runtime", "host policy"]))
            #expect(checks.first { $0["check"]?.string == "BPF programs" }?["status"]?.string == "ok")
            // A broken host policy is a failing line with a fix.
            try sandbox.hostPolicy(#"{"mdoe":"enforce"}"#)
            let (badExit, bad) = try memguard(sandbox, ["doctor"], name: "doctor-bad")
            #expect(badExit == 1 && bad.contains("unknown key \"mdoe\""), "\(bad)")
            try FileSystem.removeFile("\(sandbox.paths.configDir)/memguard.json")
            for command in [["ps"], ["logs"], ["doctor"], ["hook"], ["seccomp"], ["demo"]] {
                let (code, text) = try memguard(sandbox, command + ["--help"], name: "help-\(command[0])")
                #expect(code == 0 && text.contains("usage: memguard \(command[0])"), "\(command): \(text)")
            }
            let (logsExit, logs) = try memguard(sandbox, ["logs", "no-such-container"], name: "logs-missing")
            #expect(logsExit == 1 && logs.contains("no log for container no-such-container"))
            let (typoExit, typo) = try memguard(sandbox, ["logs", "some-container", "--folow"], name: "logs-typo")
            #expect(typoExit == 2 && typo.contains("unknown option --folow"), "\(typo)")
            sandbox.expectNothingLeft()
        }
    }
}

extension String {
    var trimmingSuffixNewline: String { hasSuffix("\n") ? String(dropLast()) : self }
}
