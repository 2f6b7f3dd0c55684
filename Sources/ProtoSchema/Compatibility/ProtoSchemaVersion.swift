import SwiftProtobuf

/// One version of a schema: a descriptor set and the name of the file the schema is.
/// The other files of the set are its imports (as `protoc --include_imports` writes them).
public struct ProtoSchemaVersion: Sendable {
    /// Every file of the version: the main file and what it imports.
    public let descriptorSet: Google_Protobuf_FileDescriptorSet
    /// The name of the main file, as recorded in the set (`orders/v1/order.proto`).
    public let mainFileName: String
    /// The version as the compatibility rules see it, built once (a registry checks each new
    /// version against stored ones many times).
    let model: SchemaModel

    /// A version whose main file is `mainFileName`; throws when the set lacks it or names a file twice.
    public init(descriptorSet: Google_Protobuf_FileDescriptorSet, mainFileName: String) throws(SchemaVersionError) {
        var seen = Set<String>()
        for file in descriptorSet.file where !seen.insert(file.name).inserted {
            throw SchemaVersionError(.duplicateFile, file: file.name,
                                     "the descriptor set holds \(file.name) twice; write it again with protoc")
        }
        guard seen.contains(mainFileName) else {
            throw SchemaVersionError(.mainFileMissing, file: mainFileName,
                                     "the descriptor set has no file \(mainFileName); name one of: "
                                         + descriptorSet.file.map(\.name).joined(separator: ", "))
        }
        self.descriptorSet = descriptorSet
        self.mainFileName = mainFileName
        self.model = SchemaModel(descriptorSet: descriptorSet, mainFileName: mainFileName)
    }

    /// A version read from a serialized descriptor set, as `protoc --descriptor_set_out` writes one; its main file
    /// is `mainFileName`, or the set's last file when nil.
    public init(serializedDescriptorSet bytes: [UInt8], mainFileName: String? = nil) throws(SchemaVersionError) {
        let set: Google_Protobuf_FileDescriptorSet
        do {
            set = try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes)
        } catch {
            throw SchemaVersionError(.unreadableDescriptorSet, file: mainFileName,
                                     "the bytes are not a FileDescriptorSet (\(error)); write one with protoc "
                                         + "--descriptor_set_out --include_imports")
        }
        if let mainFileName {
            try self.init(descriptorSet: set, mainFileName: mainFileName)
        } else {
            try self.init(descriptorSet: set)
        }
    }

    /// A version whose main file is the set's last file, as protoc orders files with `--include_imports`.
    public init(descriptorSet: Google_Protobuf_FileDescriptorSet) throws(SchemaVersionError) {
        guard let last = descriptorSet.file.last else {
            throw SchemaVersionError(.emptyDescriptorSet, file: nil,
                                     "the descriptor set holds no file; write it with protoc --descriptor_set_out")
        }
        try self.init(descriptorSet: descriptorSet, mainFileName: last.name)
    }
}

/// Why a descriptor set cannot serve as a schema version.
public struct SchemaVersionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of problem.
    public enum Code: String, Sendable, Hashable {
        /// The bytes do not decode as a descriptor set.
        case unreadableDescriptorSet
        /// The set holds no file at all.
        case emptyDescriptorSet
        /// The named main file is not in the set.
        case mainFileMissing
        /// Two files of the set share a name.
        case duplicateFile
    }

    /// The kind of problem.
    public var code: Code
    /// The file concerned, when there is one.
    public var file: String?
    /// What is wrong and what to do, for a person.
    public var message: String

    /// An error of kind `code` about `file`.
    public init(_ code: Code, file: String?, _ message: String) {
        self.code = code
        self.file = file
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}
