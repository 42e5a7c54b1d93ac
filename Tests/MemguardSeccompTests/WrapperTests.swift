import Glibc
@testable import MemguardCore
import Testing
@testable import MemguardWrapper

@Suite("memguard-runc: reading runc's command line")
struct RuncInvocationTests {
    @Test func containerdShimCreate() {
        let inv = RuncInvocation(arguments: ["--root", "/run/r", "--log", "/b/log.json", "--log-format", "json",
                                             "create", "--bundle", "/b", "--pid-file", "/b/init.pid", "c1"])
        #expect(inv.command == "create")
        #expect(inv.bundle == "/b")
        #expect(inv.containerID == "c1")
        #expect(inv.logFile == "/b/log.json" && inv.logFormat == "json")
    }

    @Test func flagSpellings() {
        #expect(RuncInvocation(arguments: ["run", "-b", "/x", "id"]).bundle == "/x")
        #expect(RuncInvocation(arguments: ["--debug", "run", "--bundle=/y", "-d", "id"]).bundle == "/y")
        #expect(RuncInvocation(arguments: ["-root=/r", "create", "-bundle", "/z", "--console-socket", "/s", "id2"]).containerID == "id2")
        #expect(RuncInvocation(arguments: ["run", "--", "-weird"]).containerID == "-weird")
    }

    @Test func restoreStartsFromItsBundle() {
        let inv = RuncInvocation(arguments: ["restore", "--image-path", "/img", "--work-path", "/w", "-d", "--bundle", "/b", "c9"])
        #expect(inv.startsFromBundle && inv.bundle == "/b" && inv.containerID == "c9")
        #expect(!RuncInvocation(arguments: ["checkpoint", "--image-path", "/img", "c9"]).startsFromBundle)
    }

    @Test func valueFlagsAtTheEndAndEmptyArguments() {
        #expect(RuncInvocation(arguments: ["--root"]).command == nil)
        #expect(RuncInvocation(arguments: ["run", "--bundle"]).bundle == nil)
        #expect(RuncInvocation(arguments: ["create", "--bundle=", "c"]).bundle == "")
        #expect(RuncInvocation(arguments: []).command == nil)
        #expect(RuncInvocation(arguments: ["", "create"]).command == "")
    }

    @Test("config.json bytes that cannot name an io.memguard key are recognised without parsing")
    func mayOptIn() {
        func check(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes(PassThrough.mayOptIn) }
        #expect(!check(""))
        #expect(!check(#"{"annotations":{"io.other":"x"},"process":{"args":["sh"]}}"#))
        #expect(check(#"{"annotations":{"io.memguard.monitor":"true"}}"#))
        #expect(check(#"{"annotations":{"io.memguard\u002emonitor":"true"}}"#))
        #expect(check(#"{"x":"\u0041"}"#))
        #expect(!check(#"{"x":"io.memguar"}"#))
        #expect(check("io.memguard"))
    }

    @Test func otherCommandsOnlyNameTheCommand() {
        let inv = RuncInvocation(arguments: ["--root", "/r", "delete", "--force", "c1"])
        #expect(inv.command == "delete" && inv.bundle == nil && inv.containerID == nil)
        #expect(RuncInvocation(arguments: ["--version"]).command == nil)
    }
}

@Suite("memguard-runc: config.json on disk")
struct BundleConfigFileTests {
    func bundle() -> String {
        var template = "/tmp/memguard-bundle.XXXXXX".utf8CString
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }

    @Test func replaceKeepsModeAndLeavesNoTemporaryFile() throws {
        let dir = bundle()
        try FileSystem.writeAtomically("\(dir)/config.json", "{}", mode: 0o600)
        let file = try BundleConfigFile(bundle: dir)
        try file.replace(with: "{\"a\":1}")
        file.release()
        var st = stat()
        stat("\(dir)/config.json", &st)
        #expect(st.st_mode & 0o777 == 0o600)
        #expect(try FileSystem.readText("\(dir)/config.json") == "{\"a\":1}")
        #expect(FileSystem.list(dir) == ["config.json"])
    }

    @Test func aSymlinkIsNeverFollowed() throws {
        let dir = bundle()
        try FileSystem.writeAtomically("\(dir)/elsewhere.json", "{}")
        symlink("\(dir)/elsewhere.json", "\(dir)/config.json")
        #expect(throws: MemguardError.self) { try BundleConfigFile(bundle: dir) }
    }
}
