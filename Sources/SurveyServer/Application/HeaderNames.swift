import HTTPTypes

/// The header fields the service reads or writes that `HTTPTypes` does not name, in one place.
extension HTTPField.Name {
    /// The chart API's key, as an alternative to `Authorization: Bearer`.
    static let xAPIKey = Self("X-API-Key")!
    /// The client chain a trusted proxy reports (`ClientIdentity`).
    static let xForwardedFor = Self("X-Forwarded-For")!
    /// Whether a trusted proxy received the request over HTTPS.
    static let xForwardedProto = Self("X-Forwarded-Proto")!
    /// The request's id, from a trusted proxy or made here, for the logs.
    static let xRequestID = Self("X-Request-Id")!
    /// Export downloads' file names.
    static let contentDisposition = Self("Content-Disposition")!
    /// Which site a browser says a form came from (cross-site ballots and admin posts).
    static let secFetchSite = Self("Sec-Fetch-Site")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let xFrameOptions = Self("X-Frame-Options")!
}
