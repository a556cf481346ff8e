import SigilEvents

/// One operation of a service's HTTP API, as its OpenAPI document describes it. Routes and their descriptions are
/// declared side by side by each controller, and the document is generated from them (never written as text).
public struct APIOperation: Sendable {
    public var summary: String
    /// Served without a token (health, metrics, the document itself).
    public var open = false
    public var parameters: [JSONValue] = []
    /// The schema of a JSON request body.
    public var requestBody: JSONValue?
    public var responses: [Int: JSONValue]

    public init(
        _ summary: String, open: Bool = false, parameters: [JSONValue] = [], requestBody: JSONValue? = nil,
        responses: [Int: JSONValue]
    ) {
        self.summary = summary
        self.open = open
        self.parameters = parameters
        self.requestBody = requestBody
        self.responses = responses
    }

    var document: JSONValue {
        var operation: [String: JSONValue] = [
            "summary": .string(summary),
            "responses": .object(Dictionary(uniqueKeysWithValues: responses.map { (String($0.key), $0.value) })),
        ]
        if open { operation["security"] = [] }
        if !parameters.isEmpty { operation["parameters"] = .array(parameters) }
        if let requestBody {
            operation["requestBody"] = [
                "required": true, "content": ["application/json": ["schema": requestBody]],
            ]
        }
        return .object(operation)
    }
}

/// The paths of an API: path template → method (`get`, `put`, ...) → operation.
public typealias APIPaths = [String: [String: APIOperation]]

/// Building blocks of operations.
public enum APIResponse {
    public static func json(_ description: String, _ schema: JSONValue, headers: JSONValue? = nil) -> JSONValue {
        var response: [String: JSONValue] = [
            "description": .string(description), "content": ["application/json": ["schema": schema]],
        ]
        if let headers { response["headers"] = headers }
        return .object(response)
    }

    /// A refusal: `application/problem+json`.
    public static func problem(_ description: String) -> JSONValue {
        [
            "description": .string(description),
            "content": ["application/problem+json": ["schema": ref("Problem")]],
        ]
    }

    public static func empty(_ description: String, headers: JSONValue? = nil) -> JSONValue {
        var response: [String: JSONValue] = ["description": .string(description)]
        if let headers { response["headers"] = headers }
        return .object(response)
    }

    /// A shared response of `components.responses`.
    public static func shared(_ name: String) -> JSONValue { ["$ref": .string("#/components/responses/\(name)")] }

    public static func ref(_ schema: String) -> JSONValue { ["$ref": .string("#/components/schemas/\(schema)")] }

    /// 401 and 403, for every authenticated operation.
    public static let authenticated: [Int: JSONValue] = [401: shared("Unauthorized"), 403: shared("Forbidden")]
}

extension APIOperation {
    /// A query parameter.
    public static func query(_ name: String, _ schema: JSONValue, _ description: String) -> JSONValue {
        ["name": .string(name), "in": "query", "schema": schema, "description": .string(description)]
    }
}
