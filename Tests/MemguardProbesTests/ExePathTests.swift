import Testing
@testable import MemguardMonitor

/// /proc/<pid>/exe names the executable, except when it lives on a mount the monitor's
/// namespace cannot see: then the kernel's own copy of the path is used.
@Suite("The executable's path in a log line")
struct ExePathTests {
    @Test("a link that names the file is used as it is")
    func linkNamesTheFile() {
        #expect(EventRecord.usable("/usr/sbin/runc", name: "runc") == "/usr/sbin/runc")
        #expect(EventRecord.usable("/memfd:jit (deleted)", name: "memfd:jit") == "/memfd:jit (deleted)")
        let long = String(repeating: "n", count: 80)
        #expect(EventRecord.usable("/bin/\(long)", name: String(long.prefix(63))) == "/bin/\(long)")
    }

    @Test("a link that does not (runc's init on its private bind mount reads as \"/\") is not")
    func linkThatDoesNot() {
        #expect(EventRecord.usable("/", name: "runc") == nil)
        #expect(EventRecord.usable("/usr/bin/other", name: "runc") == nil)
        #expect(EventRecord.usable(nil, name: "runc") == nil)
    }
}
