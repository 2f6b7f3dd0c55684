import Foundation

/// One HTTP exchange of the registry's REST API, independent of the HTTP server.
public struct RegistryHTTPRequest: Sendable {
    /// `GET`, `POST`, `PUT`, `DELETE`.
    public var method: String
    /// The path segments, percent-decoded (`/subjects/a%2Fb/versions` → `["subjects", "a/b", "versions"]`).
    public var segments: [String]
    /// Query parameters (last value wins).
    public var query: [String: String]
    /// The body.
    public var body: [UInt8]

    /// A request.
    public init(method: String, segments: [String], query: [String: String] = [:], body: [UInt8] = []) {
        self.method = method
        self.segments = segments
        self.query = query
        self.body = body
    }
}

/// The answer: status, body, content type.
public struct RegistryHTTPResponse: Sendable {
    /// HTTP status.
    public var status: Int
    /// The body (JSON unless `contentType` says otherwise).
    public var body: [UInt8]
    /// The content type.
    public var contentType: String

    /// The registry's JSON content type.
    public static let json = "application/vnd.schemaregistry.v1+json"

    /// A response.
    public init(status: Int, body: [UInt8], contentType: String = RegistryHTTPResponse.json) {
        self.status = status
        self.body = body
        self.contentType = contentType
    }
}

/// Confluent Schema Registry's REST API (PROTOBUF schemas) over ``SchemaRegistryService``:
/// the same paths, bodies, status codes and error bodies, so its clients work unchanged.
public struct RegistryREST: Sendable {
    /// The operations.
    public let service: SchemaRegistryService
    /// The first path segments this API answers.
    public static let roots: Set<String> = ["subjects", "schemas", "config", "mode", "compatibility", "associations", "contexts"]

    /// The API over `service`.
    public init(service: SchemaRegistryService) { self.service = service }

    /// The largest request body read: the largest schema with every byte JSON-escaped as
    /// `\uXXXX`, plus room for references and the other fields.
    public var maxBodyBytes: Int { 6 * service.compilation.maxSchemaBytes + 64 * 1024 }

    /// Answers one request; never throws (errors become Confluent error bodies).
    public func handle(_ request: RegistryHTTPRequest) -> RegistryHTTPResponse {
        guard request.body.count <= maxBodyBytes else {
            return Self.error(RegistryError(413, "the request body is \(request.body.count) bytes, more than the limit of \(maxBodyBytes) (schemas are at most \(service.compilation.maxSchemaBytes) bytes); it was not read"))
        }
        do {
            return try route(request)
        } catch let error as RegistryError {
            return Self.error(error)
        } catch let error as BodyError {
            return Self.error(RegistryError(error.code, error.message))
        } catch {
            return Self.error(RegistryError(50001, "Error in the backend data store: \(error)"))
        }
    }

    private func route(_ request: RegistryHTTPRequest) throws -> RegistryHTTPResponse {
        let path = request.segments, method = request.method.uppercased(), query = request.query
        let deleted = Self.flag(query["deleted"])
        switch (method, path.count, path.first ?? "") {
        case ("GET", 1, "subjects"):
            return try Self.ok(service.subjects(includingDeleted: deleted, prefix: query["subjectPrefix"].flatMap { $0 == ":*:" ? nil : $0 }))
        case ("POST", 2, "subjects"):
            let found = try service.lookup(subject: path[1], try Self.submission(request.body), includingDeleted: deleted)
            return try Self.ok(Self.describe(found, format: query["format"]))
        case ("DELETE", 2, "subjects"):
            return try Self.ok(service.deleteSubject(path[1], permanent: Self.flag(query["permanent"])))
        case ("GET", 3, "subjects") where path[2] == "versions":
            let deletedOnly = Self.flag(query["deletedOnly"]) || Self.flag(query["deleted_only"])
            var versions = try service.versions(of: path[1], includingDeleted: deleted || deletedOnly)
            if deletedOnly {
                let live = Set((try? service.versions(of: path[1])) ?? [])
                versions = versions.filter { !live.contains($0) }
            }
            return try Self.ok(versions)
        case ("POST", 3, "subjects") where path[2] == "versions":
            let registered = try service.register(subject: path[1], try Self.submission(request.body))
            return try Self.ok(["id": Int(registered.id), "version": Int(registered.version)])
        case ("GET", 4, "subjects") where path[2] == "versions":
            let found = try service.version(of: path[1], try VersionSelector(parsing: path[3]), includingDeleted: deleted)
            return try Self.ok(Self.describe(found, format: query["format"]))
        case ("DELETE", 4, "subjects") where path[2] == "versions":
            return try Self.ok(service.deleteVersion(of: path[1], try VersionSelector(parsing: path[3]), permanent: Self.flag(query["permanent"])))
        case ("GET", 5, "subjects") where path[2] == "versions" && path[4] == "schema":
            let found = try service.version(of: path[1], try VersionSelector(parsing: path[3]), includingDeleted: deleted)
            return RegistryHTTPResponse(status: 200, body: Array(found.schema.schema.utf8), contentType: "text/plain; charset=utf-8")
        case ("GET", 5, "subjects") where path[2] == "versions" && path[4] == "referencedby":
            return try Self.ok(service.referencedBy(subject: path[1], try VersionSelector(parsing: path[3])))
        case ("GET", 2, "schemas") where path[1] == "types":
            return try Self.ok(["PROTOBUF"])
        case ("GET", 3, "schemas") where path[1] == "ids":
            let id = try Self.id(path[2])
            let schema = try service.schema(id: id)
            var body: [String: Any] = ["schemaType": "PROTOBUF", "schema": try text(of: schema, format: query["format"])]
            if !schema.references.isEmpty { body["references"] = Self.references(schema.references) }
            return try Self.ok(body)
        case ("GET", 4, "schemas") where path[1] == "ids" && path[3] == "schema":
            let schema = try service.schema(id: try Self.id(path[2]))
            return RegistryHTTPResponse(status: 200, body: Array(schema.schema.utf8), contentType: "text/plain; charset=utf-8")
        case ("GET", 4, "schemas") where path[1] == "ids" && path[3] == "versions":
            let usages = try service.usages(of: try Self.id(path[2]), includingDeleted: deleted)
            return try Self.ok(usages.map { ["subject": $0.subject, "version": Int($0.version)] as [String: Any] })
        case ("GET", 4, "schemas") where path[1] == "ids" && path[3] == "subjects":
            let usages = try service.usages(of: try Self.id(path[2]), includingDeleted: deleted)
            return try Self.ok(Array(Set(usages.map(\.subject))).sorted())
        case ("POST", 4, "compatibility") where path[1] == "subjects" && path[3] == "versions":
            return try compatibility(request, subject: path[2], against: nil)
        case ("POST", 5, "compatibility") where path[1] == "subjects" && path[3] == "versions":
            return try compatibility(request, subject: path[2], against: try VersionSelector(parsing: path[4]))
        case ("GET", 1, "config"), ("GET", 2, "config"):
            let level = try service.level(subject: path.count == 2 ? path[1] : nil, defaultToGlobal: Self.flag(query["defaultToGlobal"]))
            return try Self.ok(["compatibilityLevel": level.rawValue])
        case ("PUT", 1, "config"), ("PUT", 2, "config"):
            let body = try Self.object(request.body)
            guard let text = (body["compatibility"] ?? body["compatibilityLevel"]) as? String else {
                throw BodyError(42203, "the body names no level: send {\"compatibility\": \"BACKWARD\"}")
            }
            let level = try service.setLevel(text, subject: path.count == 2 ? path[1] : nil)
            return try Self.ok(["compatibility": level.rawValue])
        case ("DELETE", 1, "config"), ("DELETE", 2, "config"):
            return try Self.ok(["compatibilityLevel": try service.deleteLevel(subject: path.count == 2 ? path[1] : nil).rawValue])
        case ("GET", 1, "mode"), ("GET", 2, "mode"):
            return try Self.ok(["mode": try service.mode(subject: path.count == 2 ? path[1] : nil, defaultToGlobal: Self.flag(query["defaultToGlobal"])).rawValue])
        case ("PUT", 1, "mode"), ("PUT", 2, "mode"):
            guard let text = try Self.object(request.body)["mode"] as? String else {
                throw BodyError(42204, "the body names no mode: send {\"mode\": \"READWRITE\"}")
            }
            return try Self.ok(["mode": try service.setMode(text, subject: path.count == 2 ? path[1] : nil).rawValue])
        case ("DELETE", 2, "mode"):
            return try Self.ok(["mode": try service.deleteMode(subject: path[1]).rawValue])
        case ("GET", 1, "contexts"):
            return try Self.ok(["."])
        case (_, _, "associations"):
            // Confluent's serializers ask for topic associations first and fall back to
            // `<topic>-value` on a 404.
            throw RegistryError(40410, "Association for '\(path.dropFirst().joined(separator: "/"))' not found.")
        default:
            throw RegistryError(404, "HTTP 404 Not Found: \(method) /\(path.joined(separator: "/")) is not part of the registry API")
        }
    }

    private func compatibility(_ request: RegistryHTTPRequest, subject: String, against selector: VersionSelector?) throws -> RegistryHTTPResponse {
        let verbose = Self.flag(request.query["verbose"])
        let submission = try Self.submission(request.body)
        let result: (compatible: Bool, messages: [String])
        do {
            if selector == .latest, (try? service.versions(of: subject)) == nil {
                result = (true, [])  // nothing to be compatible with
            } else {
                result = try service.checkCompatibility(subject: subject, submission, against: selector)
            }
        } catch let error as RegistryError where error.code == 42201 && verbose {
            result = (false, [error.message])
        }
        var body: [String: Any] = ["is_compatible": result.compatible]
        if verbose { body["messages"] = result.messages }
        return try Self.ok(body)
    }

    private func text(of schema: RegisteredSchema, format: String?) throws -> String {
        guard format == "serialized" else { return schema.schema }
        let compiled = try service.compiled(id: schema.id)
        var file = compiled.mainFile
        file.name = "schema.proto"
        return Data(try file.serializedBytes() as [UInt8]).base64EncodedString()
    }

    private static func describe(_ found: SubjectSchema, format: String?) -> [String: Any] {
        var body: [String: Any] = ["subject": found.subject, "version": Int(found.version), "id": Int(found.schema.id),
                                   "schemaType": "PROTOBUF", "schema": found.schema.schema]
        if !found.schema.references.isEmpty { body["references"] = references(found.schema.references) }
        if found.deleted { body["deleted"] = true }
        return body
    }

    private static func references(_ references: [SchemaReference]) -> [[String: Any]] {
        references.map { ["name": $0.name, "subject": $0.subject, "version": Int($0.version)] }
    }

    // MARK: Parsing

    struct BodyError: Error {
        let code: Int
        let message: String
        init(_ code: Int, _ message: String) {
            self.code = code
            self.message = message
        }
    }

    static func flag(_ value: String?) -> Bool { value?.lowercased() == "true" }

    static func id(_ text: String) throws -> Int32 {
        guard let id = Int32(text), id > 0 else { throw RegistryError(40403, "Schema \(text) not found: an id is a positive integer") }
        return id
    }

    static func object(_ body: [UInt8]) throws -> [String: Any] {
        guard !body.isEmpty else { throw BodyError(400, "the request has no body; send a JSON object") }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw BodyError(400, "the body is not JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] ?? error)")
        }
        guard let object = parsed as? [String: Any] else { throw BodyError(400, "the body is JSON but not an object") }
        return object
    }

    static func submission(_ body: [UInt8]) throws -> SchemaSubmission {
        let object = try object(body)
        let known: Set<String> = ["schema", "schemaType", "references", "id", "version", "metadata", "ruleSet", "schemaTagsToAdd", "schemaTagsToRemove"]
        if let unknown = object.keys.first(where: { !known.contains($0) }) {
            throw BodyError(422, "Unrecognized field: \(unknown)")
        }
        guard let schema = object["schema"] as? String else {
            throw BodyError(42201, "Invalid schema: the body has no \"schema\" string")
        }
        var references: [SchemaReference] = []
        for entry in object["references"] as? [[String: Any]] ?? [] {
            guard let name = entry["name"] as? String, let subject = entry["subject"] as? String, let version = entry["version"] as? Int,
                  let version32 = Int32(exactly: version) else {
                throw BodyError(42201, "Invalid schema: a reference needs \"name\", \"subject\" and \"version\"")
            }
            references.append(SchemaReference(name: name, subject: subject, version: version32))
        }
        return SchemaSubmission(schema: schema, schemaType: object["schemaType"] as? String, references: references,
                                id: (object["id"] as? Int).flatMap { Int32(exactly: $0) }, version: (object["version"] as? Int).flatMap { Int32(exactly: $0) })
    }

    // MARK: Replies

    static func ok(_ value: Any) throws -> RegistryHTTPResponse {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys, .withoutEscapingSlashes])
        return RegistryHTTPResponse(status: 200, body: Array(data), contentType: RegistryHTTPResponse.json)
    }

    /// A Confluent error body for `error`.
    public static func error(_ error: RegistryError) -> RegistryHTTPResponse {
        let body: [String: Any] = ["error_code": error.code, "message": error.message]
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return RegistryHTTPResponse(status: error.httpStatus, body: Array(data), contentType: RegistryHTTPResponse.json)
    }
}
