extension ProtoCompiler {
    /// The bounds one compilation stays within, so a hostile schema is refused with an error
    /// naming the limit instead of exhausting the stack or memory. The standard limits are far
    /// past any real file (protoc 3.21 sets none; newer protoc nests messages at most 32 deep).
    public struct Limits: Sendable, Hashable {
        /// The largest `.proto` file read, in bytes.
        public var maxFileBytes: Int
        /// The most files one compilation loads (imports included, the bundled ones too).
        public var maxFiles: Int
        /// How deep messages and groups may nest inside each other, and aggregate option values
        /// (`{ a { b { … } } }`) inside their braces.
        public var maxNestingDepth: Int
        /// How long a chain of imports may be (`a` imports `b` imports `c` …).
        public var maxImportDepth: Int

        /// Limits of your own.
        public init(maxFileBytes: Int, maxFiles: Int, maxNestingDepth: Int, maxImportDepth: Int) {
            self.maxFileBytes = maxFileBytes
            self.maxFiles = maxFiles
            self.maxNestingDepth = maxNestingDepth
            self.maxImportDepth = maxImportDepth
        }

        /// 16 MiB per file, 4096 files, 100 levels of nesting (protobuf's own parsers stop at
        /// 100 levels of message recursion), import chains 100 files long.
        public static let standard = Limits(maxFileBytes: 16 << 20, maxFiles: 4096, maxNestingDepth: 100, maxImportDepth: 100)
    }
}
