import Glibc
import MemguardCore
import MemguardProbes
import Testing
@testable import MemguardDemo

extension Integration {
    @Suite("memguard-runc and seccomp on real runc")
    struct Wrapper {
        @Test("an opted-in bundle gets memguard's hooks and is monitored")
        func optedInIsMonitored() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("wrapped", command: ["/mg-attack", "wx-mmap"], hooks: false)
            let run = try sandbox.runThroughWrapper(bundle)
            #expect(run.exit == 0, "\(run.output)")
            #expect(run.log?.counts == [EventKind.wxMmap: 1], "\(run.logText)")
            let config = try FileSystem.readText("\(bundle.directory)/config.json")
            #expect(config.contains(#""createRuntime""#) && config.contains(#""poststop""#))
            #expect(config.contains(sandbox.tools.memguard))
            sandbox.expectNothingLeft()
        }

        @Test("a bundle without the annotation is not touched, byte for byte")
        func notOptedInIsUntouched() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("plain", command: ["/bin/echo", "plain"], annotations: [:], hooks: false)
            let path = "\(bundle.directory)/config.json"
            chmod(path, 0o604)
            let before = try FileSystem.readFile(path)
            let run = try sandbox.runThroughWrapper(bundle)
            #expect(run.exit == 0 && run.output == "plain\n", "\(run.output)")
            #expect(try FileSystem.readFile(path) == before)
            var st = stat()
            stat(path, &st)
            #expect(st.st_mode & 0o777 == 0o604)
            #expect(!FileSystem.exists(sandbox.logFile(bundle.id)))
            sandbox.expectNothingLeft()
        }

        @Test("wx-deny refuses W|X in the kernel and the refusals are logged")
        func wxDeny() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("wxdeny", command: ["/mg-attack", "wx-mmap", "wx-mprotect", "exec-anon"],
                                            annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp": "wx-deny"], hooks: false)
            let run = try sandbox.runThroughWrapper(bundle)
            #expect(run.exit == 0, "\(run.output)")
            #expect(run.output.contains("attack-failed wx-mmap: mmap: Permission denied"), "\(run.output)")
            #expect(run.output.contains("attack-failed wx-mprotect: mprotect: Permission denied"), "\(run.output)")
            #expect(run.log?.counts == [EventKind.wxMmap: 1, .wxMprotect: 1, .execWritable: 1], "\(run.logText)")
            #expect(run.log?.actions == ["denied": 2, "logged": 1], "\(run.logText)")
            // The refused mmap's line says what was asked: its flags, and no implied exec.
            let deniedMmap = run.logText.split(separator: "\n").first { $0.contains(#""event":"wx-mmap""#) }.map(String.init) ?? ""
            #expect(deniedMmap.contains(#""prot":"rwx","flags":"0x22""#) && !deniedMmap.contains("asked_prot"), "\(deniedMmap)")
            sandbox.expectNothingLeft()
        }

        @Test("a missing or invalid profile stops create and leaves config.json as it was",
              arguments: [("absent", "", "seccomp profile \"absent\" not found"),
                          ("broken", #"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["raed"],"action":"SCMP_ACT_ERRNO"}]}"#,
                           #"syscalls[0]: syscall "raed" does not exist"#)])
        func badProfile(name: String, content: String, message: String) throws {
            let sandbox = try Sandbox()
            if !content.isEmpty {
                try FileSystem.makeDirectories("\(sandbox.paths.configDir)/seccomp")
                try FileSystem.writeAtomically("\(sandbox.paths.configDir)/seccomp/\(name).json", content)
            }
            let bundle = try sandbox.bundle("bad-\(name)", command: ["/bin/echo", "ran"],
                                            annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp": name], hooks: false)
            let before = try FileSystem.readFile("\(bundle.directory)/config.json")
            let run = try sandbox.runThroughWrapper(bundle)
            #expect(run.exit == 1)
            #expect(!run.output.contains("ran"))
            #expect(run.output.contains("memguard-runc: container \(bundle.id):") && run.output.contains(message), "\(run.output)")
            #expect(try FileSystem.readFile("\(bundle.directory)/config.json") == before)
            sandbox.expectNothingLeft()
        }

        @Test("a symlinked config.json is refused and not followed")
        func symlinkedConfig() throws {
            let sandbox = try Sandbox()
            let bundle = try sandbox.bundle("link", command: ["/bin/echo", "ran"], hooks: false)
            let real = "\(sandbox.root)/outside.json"
            rename("\(bundle.directory)/config.json", real)
            symlink(real, "\(bundle.directory)/config.json")
            let before = try FileSystem.readFile(real)
            let run = try sandbox.runThroughWrapper(bundle)
            #expect(run.exit == 1)
            #expect(run.output.contains("config.json is a symlink"), "\(run.output)")
            #expect(try FileSystem.readFile(real) == before)
            sandbox.expectNothingLeft()
        }

        @Test("record a profile, then run with it: what was recorded works, anything else gets EPERM")
        func recordRoundTrip() throws {
            let sandbox = try Sandbox()
            let recording = try sandbox.bundle("record", command: ["/bin/sh", "-c", "echo hi"],
                                               annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp-record": "echo-hi"], hooks: false)
            let recorded = try sandbox.runThroughWrapper(recording)
            #expect(recorded.exit == 0 && recorded.output == "hi\n", "\(recorded.output)")
            let profilePath = "\(sandbox.paths.dataDir)/seccomp/echo-hi.json"
            #expect(recorded.logText.contains(#""event":"seccomp-recorded""#) && recorded.logText.contains(profilePath), "\(recorded.logText)")
            let profile = try FileSystem.readText(profilePath)
            #expect(profile.contains(#""execve""#) && profile.contains(#""write""#))
            #expect(!profile.contains(#""mkdir""#))

            try FileSystem.makeDirectories("\(sandbox.paths.configDir)/seccomp")
            try FileSystem.writeAtomically("\(sandbox.paths.configDir)/seccomp/echo-hi.json", profile)
            let use = ["io.memguard.monitor": "true", "io.memguard.seccomp": "echo-hi"]
            for attempt in 0..<3 {
                let same = try sandbox.runThroughWrapper(sandbox.bundle("same\(attempt)", command: ["/bin/sh", "-c", "echo hi"], annotations: use, hooks: false))
                #expect(same.exit == 0 && same.output == "hi\n", "\(same.output)")
            }
            let other = try sandbox.runThroughWrapper(sandbox.bundle("other", command: ["/bin/sh", "-c", "echo hi; mkdir /x"], annotations: use, hooks: false))
            #expect(other.output.contains("hi\n"))
            #expect(other.output.contains("mkdir: can't create directory '/x': Operation not permitted"), "\(other.output)")
            #expect(other.exit != 0)
            sandbox.expectNothingLeft()
        }
    }
}

extension Integration.Wrapper {
    @Test("asking for seccomp without memguard-runc in the path stops the start instead of being ignored")
    func seccompWithoutWrapper() throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("nowrap", command: ["/bin/echo", "ran"],
                                        annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp": "wx-deny"])
        let run = try sandbox.run(bundle)
        #expect(run.exit != 0)
        #expect(!run.output.contains("ran\n"))
        #expect(run.output.contains("no memguard-runc installed it"), "\(run.output)")
        sandbox.expectNothingLeft()
    }
}

extension Integration.Wrapper {
    @Test("wx-deny also refuses READ_IMPLIES_EXEC, which would make RW memory executable behind seccomp's back")
    func wxDenyPersonality() throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("rie", command: ["/mg-attack", "read-implies-exec"],
                                        annotations: ["io.memguard.monitor": "true", "io.memguard.seccomp": "wx-deny"], hooks: false)
        let run = try sandbox.runThroughWrapper(bundle)
        #expect(run.output.contains("attack-failed read-implies-exec: personality: Permission denied"), "\(run.output)")
        #expect(run.log?.total == 0, "\(run.logText)")
        sandbox.expectNothingLeft()
    }

    @Test("a config.json that runc and memguard would read differently is refused", arguments: [
        #""annotations":{"io.memguard.monitor":"true"},"annotations":{"other":"x"}"#,
        #""Annotations":{"io.memguard.monitor":"true"},"annotations":{}"#,
        #""annotations":{"io.memguard.monitor":"true","io.memguard.monitor\u0000x":"false"}"#,
    ])
    func ambiguousConfigIsRefused(fragment: String) throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("ambiguous", command: ["/bin/echo", "ran"], annotations: [:], hooks: false)
        let path = "\(bundle.directory)/config.json"
        // The bundle has no annotations; the fragment is appended as the last members.
        let text = try FileSystem.readText(path)
        try #require(!text.contains("annotations"))
        try FileSystem.writeAtomically(path, String(text.dropLast(2)) + ",\n" + fragment + "}\n")
        let before = try FileSystem.readFile(path)
        let run = try sandbox.runThroughWrapper(bundle)
        #expect(run.exit == 1, "\(run.output)")
        #expect(run.output.contains("memguard-runc: container \(bundle.id):") && run.output.contains("ambiguous"), "\(run.output)")
        #expect(!run.output.contains("ran"))
        #expect(try FileSystem.readFile(path) == before)
        sandbox.expectNothingLeft()
    }
}

extension Integration.Wrapper {
    @Test("a runtime that cannot be executed or found is a clear error, not a silent pass")
    func brokenRuntime() throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("nort", command: ["/bin/echo", "ran"], annotations: [:], hooks: false)
        let garbage = "\(sandbox.root)/not-a-program"
        try FileSystem.writeAtomically(garbage, "\u{7F}ELF garbage", mode: 0o755)
        chmod(garbage, 0o755)
        for (runtime, expectedExit, message) in [(garbage, Int32(127), "executing the runtime \(garbage)"),
                                                 ("\(sandbox.root)/missing", Int32(1), "no OCI runtime found")] {
            let out = "\(sandbox.root)/nort.out"
            let exit = ProcessRunner.wait(try ProcessRunner.start([sandbox.wrapper, "run", "--bundle", bundle.directory, bundle.id], output: out,
                                                                  environment: sandbox.wrapperEnvironment + ["MEMGUARD_RUNTIME=\(runtime)"]))
            let text = (try? FileSystem.readText(out)) ?? ""
            #expect(exit == expectedExit && text.contains("memguard-runc: ") && text.contains(message), "\(exit): \(text)")
        }
        sandbox.expectNothingLeft()
    }

    @Test("without MEMGUARD_RUNTIME the runtime named in memguard.json is used; a broken policy is reported")
    func runtimeFromHostPolicy() throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("policyrt", command: ["/bin/echo", "ran"], annotations: [:], hooks: false)
        let runtime = try sandbox.standInRuntime("named-runc", label: "named-runtime")
        let environment = sandbox.wrapperEnvironment.filter { !$0.hasPrefix("MEMGUARD_RUNTIME=") }
        func wrap(_ args: [String]) throws -> (Int32, String) {
            let out = "\(sandbox.root)/policyrt.out"
            let exit = ProcessRunner.wait(try ProcessRunner.start([sandbox.wrapper] + args, output: out, environment: environment))
            return (exit, (try? FileSystem.readText(out)) ?? "")
        }
        try sandbox.hostPolicy(#"{"runtime":"\#(runtime)"}"#)
        // Both a pass-through command and create of a bundle that does not opt in.
        for args in [["state", "x"], ["--root", "/r", "create", "--bundle", bundle.directory, bundle.id]] {
            let (exit, text) = try wrap(args)
            #expect(exit == 0 && text == "named-runtime \(args.joined(separator: " "))\n", "\(args): \(text)")
        }
        try sandbox.hostPolicy(#"{"runtime":"\#(runtime)","surprise":1}"#)
        let (exit, text) = try wrap(["state", "x"])
        #expect(exit == 1 && text.contains("memguard-runc: ") && text.contains("unknown key \"surprise\""), "\(text)")
        #expect(!text.contains("named-runtime"))
        sandbox.expectNothingLeft()
    }

    @Test("restore of an opted-in bundle gets the hooks too (runc runs createRuntime on restore)")
    func restoreGetsHooks() throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("restored", command: ["/bin/echo", "ran"], hooks: false)
        // criu cannot checkpoint on the development VM, so what is tested is the wrapper's part:
        // the config.json the runtime is handed for `restore`, read by a stand-in runtime.
        let runtime = try sandbox.standInRuntime("restore-runc", label: "handed")
        let out = "\(sandbox.root)/restore.out"
        let args = ["restore", "--image-path", "/nonexistent", "-d", "--bundle", bundle.directory, bundle.id]
        let exit = ProcessRunner.wait(try ProcessRunner.start([sandbox.wrapper] + args, output: out,
                                                              environment: sandbox.wrapperEnvironment + ["MEMGUARD_RUNTIME=\(runtime)"]))
        let handed = (try? FileSystem.readText(out)) ?? ""
        #expect(exit == 0 && handed == "handed \(args.joined(separator: " "))\n", "\(handed)")
        let config = try FileSystem.readText("\(bundle.directory)/config.json")
        #expect(config.contains(#""createRuntime""#) && config.contains(#""poststop""#) && config.contains(sandbox.tools.memguard))
        sandbox.expectNothingLeft()
    }

    @Test("a bundle run again gets this run's hook settings, once; a refused start is in the container's log")
    func rerunAndRefusal() throws {
        let sandbox = try Sandbox()
        let bundle = try sandbox.bundle("rerun", command: ["/bin/echo", "ran"], hooks: false)
        let runtime = try sandbox.standInRuntime("rerun-runc", label: "handed")
        func wrap(logDir: String) throws -> (Int32, String) {
            let out = "\(sandbox.root)/rerun.out"
            let environment = sandbox.wrapperEnvironment.filter { !$0.hasPrefix("MEMGUARD_LOG_DIR=") }
                + ["MEMGUARD_LOG_DIR=\(logDir)", "MEMGUARD_RUNTIME=\(runtime)"]
            let exit = ProcessRunner.wait(try ProcessRunner.start([sandbox.wrapper, "create", "--bundle", bundle.directory, bundle.id],
                                                                  output: out, environment: environment))
            return (exit, (try? FileSystem.readText(out)) ?? "")
        }
        #expect(try wrap(logDir: "\(sandbox.root)/logs-a").0 == 0)
        #expect(try wrap(logDir: "\(sandbox.root)/logs-b").0 == 0)
        let config = try FileSystem.readText("\(bundle.directory)/config.json")
        #expect(config.contains("MEMGUARD_LOG_DIR=\(sandbox.root)/logs-b") && !config.contains("logs-a"), "\(config)")
        // The stage's key and the hook's argument: one memguard hook, not two.
        #expect(config.ranges(of: #""createRuntime""#).count == 2, "\(config)")

        // A typo in a setting stops the start: on stderr, and in the container's log.
        let path = "\(bundle.directory)/config.json"
        let typo = config.replacing(#""io.memguard.mode":"audit""#, with: #""io.memguard.mode":"enforcce""#)
        try #require(typo != config)
        try FileSystem.writeAtomically(path, typo)
        let (exit, output) = try wrap(logDir: sandbox.paths.logDir)
        #expect(exit == 1 && output.contains("io.memguard.mode='enforcce' is not one of"), "\(output)")
        let lines = sandbox.logLines(bundle.id)
        #expect(lines.contains { $0.contains(#""event":"wrapper","result":"error""#) && $0.contains("enforcce") }, "\(lines)")
        sandbox.expectNothingLeft()
    }
}

