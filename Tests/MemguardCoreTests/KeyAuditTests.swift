import Glibc
import Testing
@testable import MemguardCore

@Suite("Reading config.json as runc would")
struct KeyAuditTests {
    func audit(_ text: String) -> String? {
        do {
            try KeyAudit.check(Array(text.utf8), what: "config.json")
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test(arguments: [
        #"{"annotations":{"io.memguard.monitor":"true"},"annotations":{"x":"y"}}"#,
        #"{"annotations":{},"Annotations":{"io.memguard.monitor":"true"}}"#,
        #"{"linux":{"seccomp":{}},"Linux":{"seccomp":null}}"#,
        #"{"linux":{"seccomp":{},"Seccomp":null}}"#,
        #"{"annotations":{"io.memguard.monitor":"true","io.memguard.monitor\u0000x":"false"}}"#,
        #"{"hooks":{"poststop":[],"PostStop":[]}}"#,
    ])
    func ambiguitiesAreRefused(text: String) {
        #expect(audit(text)?.contains("ambiguous") == true, "\(audit(text) ?? "accepted")")
    }

    @Test(arguments: [
        #"{"annotations":{"io.memguard.monitor":"true","other":"x"},"process":{"args":["a"]}}"#,
        #"{"x":{"annotations":1,"Annotations":2},"annotations":{"a":"1","A":"2"}}"#,
        #"{"deep":"# + String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000) + "}",
        "not json at all",
        #"{"annotations":{"other":"1","other":"2"}}"#,
    ])
    func ordinaryOrForeignShapesPass(text: String) {
        #expect(audit(text) == nil)
    }

    @Test func lenientParsingAcceptsWhatGoAccepts() throws {
        var bytes = Array(#"{"process":{"env":["LANG=caf"#.utf8) + [0xE9] + Array(#""]},"annotations":{"io.memguard.monitor":"true"}}"#.utf8)
        let config = try OCIConfig(bytes: bytes, what: "config.json")
        #expect(try config.annotations(what: "config.json")["io.memguard.monitor"] == "true")
        bytes = Array(#"{"x":"#.utf8) + Array(String(repeating: "[", count: 100).utf8) + Array(String(repeating: "]", count: 100).utf8) + [UInt8(ascii: "}")]
        _ = try OCIConfig(bytes: bytes, what: "config.json")
    }

    @Test func aFIFOIsRefusedNotWaitedOn() throws {
        let path = "/tmp/memguard-fifo-\(getpid())"
        mkfifo(path, 0o600)
        defer { unlink(path) }
        #expect(throws: MemguardError.self) { try FileSystem.readFile(path) }
    }
}
