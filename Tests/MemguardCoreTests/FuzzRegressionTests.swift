import MemguardCore
import MemguardFuzzing
import Testing

/// Every seed and every input libFuzzer ever crashed on (fuzz/crashes/) goes through the same
/// parsers on every test run.
@Suite("Fuzz corpus and saved crashes")
struct FuzzRegressionTests {
    static let repository: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    @Test func corpusAndCrashesRunClean() throws {
        var count = 0
        for dir in ["fuzz/corpus", "fuzz/crashes"] {
            for name in FileSystem.list("\(Self.repository)/\(dir)") where !name.hasPrefix(".") {
                FuzzOne.run(try FileSystem.readFile("\(Self.repository)/\(dir)/\(name)", limit: 16 << 20))
                count += 1
            }
        }
        #expect(count >= 9)
    }
}
