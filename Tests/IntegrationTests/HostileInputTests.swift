import Glibc
import MemguardCore
import MemguardMonitor
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("Hostile and broken input to the hook and the wrapper")
    struct HostileInput {
        static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

        static let states: [(String, [UInt8])] = {
            let on = #""annotations":{"io.memguard.monitor":"true"}"#
            func state(id: String, pid: String = "PID", extra: String = on) -> [UInt8] {
                json(#"{"ociVersion":"1.0.2","id":"# + id + #","status":"creating","pid":"# + pid + #","bundle":"/nonexistent","# + extra + "}")
            }
            var all: [(String, [UInt8])] = [
                ("truncated", Array(state(id: #""t""#).dropLast(9))),
                ("not-json", json("<xml/>")),
                ("huge", json(#"{"id":""#) + [UInt8](repeating: 0x61, count: 5 << 20) + json(#""}"#)),
                ("deep", json(#"{"x":"#) + [UInt8](repeating: 0x5B, count: 100_000) + [UInt8](repeating: 0x5D, count: 100_000) + json("}")),
                ("non-utf8", json(#"{"ociVersion":"1","id":"x"#) + [0xFF, 0xFE] + json(#"","status":"creating","annotations":{"io.memguard.monitor":"true"}}"#)),
                ("pid-string", state(id: #""p""#, pid: #""12""#)),
                ("annotations-array", state(id: #""a""#, extra: #""annotations":["io.memguard.monitor"]"#)),
                ("id-number", state(id: "7")),
                ("no-status", json(#"{"ociVersion":"1","id":"x","pid":1,"annotations":{"io.memguard.monitor":"true"}}"#)),
                ("id-traversal", state(id: #""../../etc/memguard-escape""#)),
                ("id-4k", state(id: "\"" + String(repeating: "x", count: 4096) + "\"")),
                ("id-nul", state(id: #""a\u0000b""#)),
                ("id-newline", state(id: #""a\nb""#)),
                ("id-slash", state(id: #""a/b/c""#)),
                ("annotation-control", state(id: #""c""#, extra: #""annotations":{"io.memguard.monitor":"true","io.memguard.mode":"audit\u0007\n{}"}"#)),
                ("not-opted-broken-mode", state(id: #""n""#, extra: #""annotations":{"io.memguard.mode":"nonsense"}"#)),
            ]
            return all
        }()

        @Test("every hostile state gets a clear error or a clean no-op, no crash, no file outside memguard's directories",
              arguments: states.map(\.0))
        func hookState(name: String) throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let input = Self.states.first { $0.0 == name }!.1.replacingPID(sleeper.pid)
            let result = try sandbox.hook("createRuntime", stdin: input)
            #expect(result.exit == 0 || result.exit == 1, "exit \(result.exit) (a signal?): \(result.output)")
            if result.exit == 1 {
                #expect(result.output.hasPrefix("memguard hook createRuntime:"), "\(result.output)")
                #expect(!result.output.dropLast().contains("\n"), "the error spans lines: \(result.output)")
            }
            #expect(!FileSystem.exists("/etc/memguard-escape.log") && !FileSystem.exists("\(sandbox.root)/etc/memguard-escape.log"))
            for file in FileSystem.list(sandbox.paths.logDir) {
                #expect(!file.hasPrefix(".") && !file.contains("/"), "\(file)")
            }
            // Whatever was started is stopped again.
            let stop = try sandbox.hook("poststop", stdin: input)
            #expect(stop.exit == 0 || stop.exit == 1)
            _ = sandbox.waitFor { FileSystem.list(sandbox.paths.containersDir).isEmpty }
            sandbox.expectNothingLeft()
        }

        @Test("hostile config.json through memguard-runc: refused clearly or handed to the runtime untouched")
        func wrapperConfig() throws {
            let sandbox = try Sandbox()
            // A stand-in runtime that records that it ran (the wrapper's decision is what is tested).
            let runtime = try sandbox.standInRuntime("fake-runc", label: "handed-over")
            let cases: [(String, [UInt8], Bool)] = [
                ("huge-not-opted", Self.json(#"{"x":""#) + [UInt8](repeating: 0x61, count: 5 << 20) + Self.json(#""}"#), true),
                ("deep-not-opted", Self.json(#"{"x":"#) + [UInt8](repeating: 0x5B, count: 5000) + [UInt8](repeating: 0x5D, count: 5000) + Self.json("}"), true),
                ("non-utf8-not-opted", Self.json(#"{"process":{"env":["A="#) + [0xE9] + Self.json(#""]}}"#), true),
                ("truncated", Self.json(#"{"annotations":{"io.memguard.monitor":"tr"#), false),
                // Go's decoder reads the first value and ignores the rest; json-c refuses it.
                ("trailing-data", Self.json(#"{"annotations":{"io.memguard.monitor":"true"}}x"#), false),
                // Go matches struct fields by case folding (ſ is s, the Kelvin sign is k).
                ("capitalised-annotations", Self.json(#"{"Annotations":{"io.memguard.monitor":"true"}}"#), false),
                ("long-s-annotations", Self.json("{\"annotation\u{17F}\":{\"io.memguard.monitor\":\"true\"}}"), false),
                ("kelvin-hooks", Self.json("{\"annotations\":{\"io.memguard.monitor\":\"true\"},\"hoo\u{212A}s\":{}}"), false),
                // json-c ends a key at a NUL, so this would replace its annotations; Go ignores it.
                ("nul-top-level-key", Self.json(#"{"annotations":{"io.memguard.monitor":"true"},"annotations\u0000":{"x":"y"}}"#), false),
                ("long-s-poststop", Self.json("{\"annotations\":{\"io.memguard.monitor\":\"true\"},\"hooks\":{\"po\u{17F}tstop\":[]}}"), false),
                ("annotations-array", Self.json(#"{"annotations":["io.memguard.monitor"]}"#), false),
                ("monitor-bool", Self.json(#"{"annotations":{"io.memguard.monitor":true}}"#), false),
                ("hooks-array", Self.json(#"{"root":{"path":"rootfs"},"hooks":[1],"annotations":{"io.memguard.monitor":"true"}}"#), false),
                ("control-chars", Self.json(#"{"annotations":{"io.memguard.monitor":"true","io.memguard.mode":"a\u0001"}}"#), false),
                // Keys spelled with \u escapes never show "io.memguard" literally: the pass-through
                // must not take them for a bundle that does not opt in (the bogus mode is refused).
                ("escaped-opt-in", Self.json(#"{"annotations":{"io.memguard\u002emonitor":"true","io\u002ememguard.mode":"bogus"}}"#), false),
                ("escaped-not-opted", Self.json(#"{"process":{"env":["A=\u0041"]},"annotations":{"io.other":"1"}}"#), true),
                // What does not name memguard at all is the runtime's business, ambiguous or not.
                ("duplicate-keys-not-opted", Self.json(#"{"annotations":{"a":"1"},"annotations":{"b":"2"}}"#), true),
            ]
            for (name, config, handedOver) in cases {
                let bundle = "\(sandbox.root)/\(name)"
                try FileSystem.makeDirectories(bundle)
                let fd = open("\(bundle)/config.json", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                try FileSystem.writeAll(fd: fd, config, what: name)
                close(fd)
                let out = "\(sandbox.root)/\(name).out"
                let exit = ProcessRunner.wait(try ProcessRunner.start([sandbox.wrapper, "create", "--bundle", bundle, "id-\(name)"], output: out,
                                                                      environment: sandbox.wrapperEnvironment + ["MEMGUARD_RUNTIME=\(runtime)"]))
                let text = (try? FileSystem.readText(out)) ?? ""
                if handedOver {
                    #expect(exit == 0 && text.contains("handed-over create --bundle \(bundle) id-\(name)"), "\(name): \(text)")
                    #expect(try FileSystem.readFile("\(bundle)/config.json", limit: 16 << 20) == config, "\(name): config.json changed")
                } else {
                    #expect(exit == 1 && text.hasPrefix("memguard-runc: container id-\(name):") && !text.contains("handed-over"), "\(name): \(text)")
                    #expect(try FileSystem.readFile("\(bundle)/config.json", limit: 16 << 20) == config, "\(name): config.json changed")
                }
            }
            sandbox.expectNothingLeft()
        }

        @Test("bpffs and tracefs unmounted: the hook mounts bpffs itself and needs no tracefs")
        func unmountedFilesystems() throws {
            let sandbox = try Sandbox()
            let sleeper = try CgroupedSleeper(root: sandbox.root)
            let state = "\(sandbox.root)/state.json"
            try FileSystem.writeAtomically(state, String(decoding: sandbox.state(id: "nofs", pid: sleeper.pid), as: UTF8.self))
            let stop = "\(sandbox.root)/stop.json"
            try FileSystem.writeAtomically(stop, String(decoding: sandbox.state(id: "nofs", pid: nil), as: UTF8.self))
            // In a private mount namespace, so the host keeps its mounts; the bpffs the hook
            // mounts there (and what is pinned in it) goes away with the namespace.
            let env = sandbox.wrapperEnvironment.map { "export '\($0)';" }.joined()
            let script = """
                \(env) umount /sys/kernel/tracing 2>/dev/null; umount /sys/fs/bpf || exit 90
                grep -q ' /sys/fs/bpf ' /proc/self/mountinfo && exit 91
                \(sandbox.tools.memguard) hook createRuntime < \(state) || exit 92
                grep -q ' /sys/fs/bpf bpf' /proc/self/mounts || exit 93
                \(sandbox.tools.memguard) hook poststop < \(stop) || exit 94
                for i in $(seq 1 100); do [ -e \(sandbox.paths.stateFile(for: try ContainerID("nofs"))) ] || exit 0; sleep 0.05; done; exit 95
                """
            let exit = try ProcessRunner.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], output: "\(sandbox.root)/nofs.out")
            #expect(exit == 0, "exit \(exit): \((try? FileSystem.readText("\(sandbox.root)/nofs.out")) ?? "")")
            #expect(sandbox.logLines("nofs").contains { $0.contains(#""result":"monitoring""#) })
            #expect(sandbox.logLines("nofs").contains { $0.contains(#""event":"monitor-stop""#) })
            sandbox.expectNothingLeft()
        }
    }
}

extension Array where Element == UInt8 {
    /// The "PID" placeholder of a test state, as the number (bytes: inputs may not be UTF-8).
    func replacingPID(_ pid: Int32) -> [UInt8] {
        let placeholder = Array("\"PID\"".utf8)
        var out: [UInt8] = []
        var i = 0
        while i < count {
            if i + placeholder.count <= count && Array(self[i..<(i + placeholder.count)]) == placeholder {
                out += Array("\(pid)".utf8)
                i += placeholder.count
            } else {
                out.append(self[i])
                i += 1
            }
        }
        return out
    }
}
