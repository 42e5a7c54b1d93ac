import Testing
@testable import MemguardCore

@Suite("Container ids as file names")
struct ContainerIDTests {
    @Test func ordinaryIdsAreKept() throws {
        #expect(try ContainerID("web-1_a.b").fileName == "web-1_a.b")
        let sha = String(repeating: "ab12", count: 16)
        #expect(try ContainerID(sha).fileName == sha)
    }

    @Test(arguments: ["../../etc/x", "..", ".", "/abs", "a/b", "line\nbreak", ".hidden", "a b", "x%2Fy", "é"])
    func hostileIdsNeverLeaveTheDirectory(raw: String) throws {
        let name = try ContainerID(raw).fileName
        #expect(!name.contains("/"))
        #expect(!name.hasPrefix("."))
        #expect(!name.contains("\n"))
        #expect(!name.isEmpty)
        let paths = MemguardPaths()
        #expect(paths.logFile(for: try ContainerID(raw)).hasPrefix(paths.logDir + "/"))
    }

    @Test func escapingIsOneToOne() throws {
        let ids = ["a/b", "a%2Fb", "a_b", "a.b", ".a", "%2Ea"]
        let names = try ids.map { try ContainerID($0).fileName }
        #expect(Set(names).count == ids.count)
    }

    @Test func longIdsAreCutWithAHash() throws {
        let a = try ContainerID(String(repeating: "a", count: 1000) + "1")
        let b = try ContainerID(String(repeating: "a", count: 1000) + "2")
        #expect(a.fileName.utf8.count <= 200)
        #expect(a.fileName != b.fileName)
    }

    @Test func messagesEscapeControlCharacters() throws {
        #expect(try ContainerID("web-1").description == "web-1")
        #expect(try ContainerID("a\nb").description == #""a\nb""#)
    }

    @Test func emptyHugeAndNulIdsAreRefused() {
        #expect(throws: MemguardError.self) { try ContainerID("") }
        #expect(throws: MemguardError.self) { try ContainerID(String(repeating: "x", count: 4096)) }
        #expect(throws: MemguardError.self) { try ContainerID("a\u{0}b") }
    }
}
