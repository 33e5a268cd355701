using System.Text.Json;
using LlmKit.Samples.AspNetApi.OpenAI;
using Microsoft.AspNetCore.Http.Features;

namespace LlmKit.Samples.AspNetApi.Serving;

/// <summary>JSON reading and OpenAI-style error writing shared by the endpoints.</summary>
public static partial class ApiJson
{
    /// <summary>The log category of refusals written through <see cref="RefuseAsync"/>.</summary>
    public const string RefusalLogCategory = "LlmKit.Samples.AspNetApi.Refusals";

    /// <summary>Serializer settings: property names come from the DTOs' attributes; nulls are omitted unless a DTO says otherwise.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>
    /// Reads the body as <typeparamref name="T"/>, turning a non-JSON content type (415), a body that stops arriving
    /// (408), malformed JSON and oversized bodies (400) into <see cref="ApiException"/>s that say what is wrong.
    /// </summary>
    /// <param name="http">The request context.</param>
    /// <param name="maxBodyBytes">The body limit, for the message.</param>
    /// <exception cref="ApiException">The body is not declared as JSON, too slow, too large, not JSON, or of the wrong shape.</exception>
    public static async Task<T?> ReadAsync<T>(HttpContext http, long maxBodyBytes)
    {
        ArgumentNullException.ThrowIfNull(http);

        // A web page may POST text/plain, form or multipart bodies to any site without a CORS preflight; JSON only
        // keeps such "simple" cross-site requests out.
        if (!http.Request.HasJsonContentType())
        {
            string? sent = http.Request.ContentType;
            throw new ApiException(StatusCodes.Status415UnsupportedMediaType,
                $"The request body must be JSON sent with 'Content-Type: application/json'; got {(string.IsNullOrEmpty(sent) ? "no Content-Type" : $"'{sent}'")}.",
                null, "unsupported_media_type");
        }

        if (http.Request.ContentLength > maxBodyBytes)
        {
            throw TooLarge(maxBodyBytes, http.Request.ContentLength.Value);
        }

        try
        {
            return await JsonSerializer.DeserializeAsync<T>(http.Request.Body, Options, http.RequestAborted);
        }
        catch (JsonException ex)
        {
            string? param = ex.Path is { Length: > 2 } path ? path.TrimStart('$', '.') : null;
            throw new ApiException(StatusCodes.Status400BadRequest,
                param is null
                    ? $"The request body is not valid JSON: {FirstLine(ex.Message)}"
                    : $"The request body has a malformed or wrongly typed value at '{param}' (see the OpenAI API reference for its type).",
                param, "invalid_json");
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw TooLarge(maxBodyBytes, null);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status408RequestTimeout)
        {
            // Kestrel's minimum body data rate gave up on the client: its fault, not the server's (no 500, no stack trace).
            throw new ApiException(StatusCodes.Status408RequestTimeout,
                "The request body stopped arriving before it was complete (the server waits for at most a few seconds of silence). Send the whole body at once.",
                null, "request_timeout");
        }
        catch (BadHttpRequestException ex)
        {
            throw new ApiException(ex.StatusCode, $"The request body could not be read: {FirstLine(ex.Message)}", null, "invalid_request");
        }
    }

    /// <summary>
    /// Reads the body as <typeparamref name="TRequest"/> and validates it; a missing, malformed or invalid body is
    /// answered with its OpenAI-style 400 here, and <c>Ok</c> is false.
    /// </summary>
    /// <param name="http">The request context.</param>
    /// <param name="maxBodyBytes">The body limit.</param>
    /// <param name="validate">Turns the body into what the endpoint needs; throws <see cref="ApiException"/> when invalid.</param>
    public static async Task<(bool Ok, TValue Value)> TryReadAsync<TRequest, TValue>(HttpContext http, long maxBodyBytes, Func<TRequest, TValue> validate)
        where TRequest : class
    {
        ArgumentNullException.ThrowIfNull(validate);
        try
        {
            var body = await ReadAsync<TRequest>(http, maxBodyBytes)
                ?? throw ApiException.BadRequest(null, "The request body must be a JSON object.", "invalid_json");
            return (true, validate(body));
        }
        catch (ApiException ex)
        {
            await RefuseAsync(http, ex);
            return (false, default!);
        }
    }

    /// <summary>Logs a refusal at Information (status, code and param, never the request's text) and writes its error body.</summary>
    /// <param name="http">The request context.</param>
    /// <param name="error">The error.</param>
    public static Task RefuseAsync(HttpContext http, ApiException error)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(error);
        var logger = http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(RefusalLogCategory);
        LogRefused(logger, error.StatusCode, error.Code, error.Param, http.Request.Method, http.Request.Path.Value);
        return WriteErrorAsync(http, error);
    }

    /// <summary>Writes <paramref name="error"/> as an OpenAI error body with its status (and Retry-After for 429).</summary>
    /// <param name="http">The request context.</param>
    /// <param name="error">The error.</param>
    /// <param name="retryAfterSeconds">Seconds for the Retry-After header, for 429.</param>
    public static Task WriteErrorAsync(HttpContext http, ApiException error, int? retryAfterSeconds = null)
    {
        ArgumentNullException.ThrowIfNull(http);
        ArgumentNullException.ThrowIfNull(error);
        http.Response.StatusCode = error.StatusCode;
        if (retryAfterSeconds is { } seconds)
        {
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return http.Response.WriteAsJsonAsync(error.ToBody(), Options, http.RequestAborted);
    }

    /// <summary>The 429 of a full generation queue.</summary>
    public static ApiException QueueFull() => new(StatusCodes.Status429TooManyRequests,
        "The server is busy: every generation slot and queue place is taken. Retry after the number of seconds in the Retry-After header.",
        null, "rate_limit_exceeded", "rate_limit_error");

    /// <summary>Turns off response buffering so each server-sent event leaves at once.</summary>
    /// <param name="http">The request context.</param>
    public static void DisableBuffering(HttpContext http) => http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();

    private static ApiException TooLarge(long limit, long? actual) => ApiException.BadRequest(null,
        $"The request body is larger than this server's limit of {limit:N0} bytes{(actual is { } a ? $" ({a:N0} bytes sent)" : "")}. Send a shorter prompt (Server:MaxRequestBodyBytes sets the limit).",
        "request_too_large");

    private static string FirstLine(string message) => message.Split('\n', 2)[0].Trim();

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "Request refused with {StatusCode} ({Code}, param {Param}): {Method} {Path}")]
    private static partial void LogRefused(ILogger logger, int statusCode, string? code, string? param, string method, string? path);
}
