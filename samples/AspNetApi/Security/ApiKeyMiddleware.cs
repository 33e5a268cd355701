using System.Security.Cryptography;
using System.Text;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Security;

/// <summary>
/// Requires <c>Authorization: Bearer &lt;key&gt;</c> with <see cref="ServerOptions.ApiKey"/> on every request but
/// <c>/health</c> (and <c>/metrics</c> when <see cref="ServerOptions.AllowAnonymousMetrics"/>); anything else gets
/// 401 with <c>WWW-Authenticate: Bearer</c> and OpenAI's <c>invalid_api_key</c> error.
/// </summary>
/// <remarks>
/// The key is compared as SHA-256 hashes with <see cref="CryptographicOperations.FixedTimeEquals"/>: equal-length
/// inputs compared in constant time, so neither the key's length nor its matching prefix leaks through timing.
/// </remarks>
public sealed partial class ApiKeyMiddleware
{
    private const string Scheme = "Bearer";

    private static readonly PathString Health = new("/health");
    private static readonly PathString Metrics = new("/metrics");

    private readonly RequestDelegate _next;
    private readonly byte[] _keyHash;
    private readonly bool _metricsOpen;
    private readonly ILogger<ApiKeyMiddleware> _logger;

    /// <summary>Creates the middleware.</summary>
    /// <param name="next">The rest of the pipeline.</param>
    /// <param name="options">The server options; <see cref="ServerOptions.ApiKey"/> must be set.</param>
    /// <param name="logger">Logs refusals (never the key sent).</param>
    public ApiKeyMiddleware(RequestDelegate next, IOptions<ServerOptions> options, ILogger<ApiKeyMiddleware> logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        string key = options.Value.ApiKey is { Length: > 0 } configured
            ? configured
            : throw new InvalidOperationException("ApiKeyMiddleware needs Server:ApiKey.");
        _next = next;
        _keyHash = SHA256.HashData(Encoding.UTF8.GetBytes(key));
        _metricsOpen = options.Value.AllowAnonymousMetrics;
        _logger = logger;
    }

    /// <summary>Passes the request on, or answers 401.</summary>
    /// <param name="http">The request context.</param>
    public Task InvokeAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var path = http.Request.Path;
        if (path.Equals(Health, StringComparison.OrdinalIgnoreCase)
            || (_metricsOpen && path.Equals(Metrics, StringComparison.OrdinalIgnoreCase)))
        {
            return _next(http);
        }

        string? sent = BearerToken(http.Request.Headers.Authorization.ToString());
        if (sent is not null && Matches(sent))
        {
            return _next(http);
        }

        LogRefused(_logger, sent is null ? "missing" : "incorrect");
        http.Response.Headers.WWWAuthenticate = sent is null ? Scheme : $"{Scheme} error=\"invalid_token\"";
        return ApiJson.WriteErrorAsync(http, new ApiException(StatusCodes.Status401Unauthorized,
            sent is null
                ? "This server requires an API key: send it as 'Authorization: Bearer <key>'."
                : "Incorrect API key provided.",
            null, "invalid_api_key"));
    }

    private bool Matches(string sent) => CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(sent)), _keyHash);

    private static string? BearerToken(string authorization)
    {
        // The scheme is case-insensitive (RFC 9110); the token is everything after one space.
        if (authorization.Length <= Scheme.Length + 1
            || !authorization.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase)
            || authorization[Scheme.Length] != ' ')
        {
            return null;
        }

        string token = authorization[(Scheme.Length + 1)..].Trim();
        return token.Length == 0 ? null : token;
    }

    [LoggerMessage(EventId = 110, Level = LogLevel.Information, Message = "Request refused with 401: {Reason} API key")]
    private static partial void LogRefused(ILogger logger, string reason);
}
