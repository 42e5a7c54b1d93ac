import MemguardFuzzing

#if FUZZING
/// Built by fuzz/run.sh with -sanitize=fuzzer -DFUZZING. SwiftPM names an executable's entry
/// point <module>_main; it hands over to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
func llvmFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    FuzzOne.run(data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? [])
    return 0
}

@_cdecl("memguard_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var args = argv
    return llvmFuzzerRunDriver(&count, &args, fuzzerTestOneInput)
}
#else
import Glibc
import MemguardCore

/// Without libFuzzer: runs the given files (a corpus, saved crashes) through the same parsers.
@main
struct CorpusRunner {
    static func main() {
        var count = 0
        for dir in CommandLine.arguments.dropFirst() {
            for name in FileSystem.list(dir) {
                guard let bytes = try? FileSystem.readFile("\(dir)/\(name)", limit: 16 << 20) else { continue }
                FuzzOne.run(bytes)
                count += 1
            }
        }
        print("memguard-fuzz: \(count) inputs, no crash")
    }
}
#endif
