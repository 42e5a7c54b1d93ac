import MemguardCore
public enum Demo {
    public static func run(arguments: [String], paths: MemguardPaths) -> Int32 { 0 }
}
