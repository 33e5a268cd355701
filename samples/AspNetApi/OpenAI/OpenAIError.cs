using System.Text.Json.Serialization;

namespace LlmKit.Samples.AspNetApi.OpenAI;

/// <summary>OpenAI's error body: <c>{"error":{"message","type","param","code"}}</c>.</summary>
/// <param name="Error">The error.</param>
public sealed record OpenAIErrorBody([property: JsonPropertyName("error")] OpenAIError Error);

/// <summary>One API error in OpenAI's shape.</summary>
/// <param name="Message">What is wrong and what is allowed.</param>
/// <param name="Type">The error class, e.g. <c>invalid_request_error</c>.</param>
/// <param name="Param">The request field at fault, if any.</param>
/// <param name="Code">A machine-readable code, if any.</param>
public sealed record OpenAIError(
    [property: JsonPropertyName("message")] string Message,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("param"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Param,
    [property: JsonPropertyName("code"), JsonIgnore(Condition = JsonIgnoreCondition.Never)] string? Code);

/// <summary>A request the API refuses; becomes an OpenAI-style error response.</summary>
public sealed class ApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="statusCode">The HTTP status.</param>
    /// <param name="message">What is wrong and what is allowed.</param>
    /// <param name="param">The request field at fault.</param>
    /// <param name="code">A machine-readable code.</param>
    /// <param name="type">The OpenAI error type.</param>
    public ApiException(int statusCode, string message, string? param = null, string? code = null, string type = "invalid_request_error")
        : base(message)
    {
        StatusCode = statusCode;
        Param = param;
        Code = code;
        Type = type;
    }

    /// <summary>Creates a 400 exception.</summary>
    public ApiException()
        : this(StatusCodes.Status400BadRequest, "Invalid request.")
    {
    }

    /// <summary>Creates a 400 exception.</summary>
    /// <param name="message">The message.</param>
    public ApiException(string message)
        : this(StatusCodes.Status400BadRequest, message)
    {
    }

    /// <summary>Creates a 400 exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public ApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = StatusCodes.Status400BadRequest;
        Type = "invalid_request_error";
    }

    /// <summary>The HTTP status.</summary>
    public int StatusCode { get; }

    /// <summary>The request field at fault.</summary>
    public string? Param { get; }

    /// <summary>A machine-readable code.</summary>
    public string? Code { get; }

    /// <summary>The OpenAI error type.</summary>
    public string Type { get; }

    /// <summary>A 400 naming the field at fault.</summary>
    /// <param name="param">The request field.</param>
    /// <param name="message">What is wrong and what is allowed.</param>
    /// <param name="code">A machine-readable code (default <c>invalid_value</c>).</param>
    public static ApiException BadRequest(string? param, string message, string code = "invalid_value") =>
        new(StatusCodes.Status400BadRequest, message, param, code);

    /// <summary>The OpenAI error body of this exception.</summary>
    public OpenAIErrorBody ToBody() => new(new OpenAIError(Message, Type, Param, Code));
}
