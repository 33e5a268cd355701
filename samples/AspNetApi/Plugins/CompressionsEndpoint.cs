using System.Text.Json.Serialization;
using LlmKit.Plugins.Compression;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Plugins;

/// <summary>
/// <c>POST /v1/compressions</c>: shortens a prompt with the compression plugin (<see cref="PromptCompressor"/>), scored
/// by the served model. Body <c>{"prompt": "...", "rate": 0.5}</c> or <c>{"prompt": "...", "max_tokens": 100}</c>.
/// </summary>
/// <remarks>Thread-safe singleton. Scoring uses the model, so requests take a generation slot.</remarks>
public sealed class CompressionsEndpoint(PromptCompressor compressor, GenerationQueue queue, IOptions<ServerOptions> options)
{
    /// <summary>Handles one request.</summary>
    /// <param name="http">The request context.</param>
    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var (ok, request) = await ApiJson.TryReadAsync(http, options.Value.MaxRequestBodyBytes,
            (CompressionRequest body) => (body.Prompt, Target: Validate(body, options.Value.MaxPluginInputCharacters)));
        if (!ok)
        {
            return;
        }

        using var slot = await queue.EnterOrRejectAsync(http);
        if (slot is null)
        {
            return;
        }

        var result = await compressor.CompressAsync(request.Prompt!, request.Target, http.RequestAborted);
        await http.Response.WriteAsJsonAsync(
            new CompressionResponse(result.Text, result.OriginalTokens, result.CompressedTokens, result.Ratio, result.TargetMet),
            ApiJson.Options, http.RequestAborted);
    }

    private static CompressionTarget Validate(CompressionRequest body, int maxCharacters)
    {
        if (string.IsNullOrEmpty(body.Prompt))
        {
            throw ApiException.BadRequest("prompt", "prompt is required: the text to compress.", "missing_required_parameter");
        }

        if (body.Prompt.Length > maxCharacters)
        {
            throw ApiException.BadRequest("prompt", $"prompt has {body.Prompt.Length:N0} characters; this server accepts at most {maxCharacters:N0}.", "request_too_large");
        }

        return (body.Rate, body.MaxTokens) switch
        {
            ({ } rate, null) when rate > 0 && rate <= 1 => CompressionTarget.Rate(rate),
            ({ } rate, null) => throw ApiException.BadRequest("rate", $"rate is the fraction of tokens to keep and must be in (0, 1]; got {rate}."),
            (null, { } max) when max >= 1 => CompressionTarget.Tokens(max),
            (null, { } max) => throw ApiException.BadRequest("max_tokens", $"max_tokens must be at least 1; got {max}."),
            (null, null) => throw ApiException.BadRequest("rate", "Give either rate (fraction of tokens to keep, in (0, 1]) or max_tokens (a token budget).", "missing_required_parameter"),
            _ => throw ApiException.BadRequest("rate", "Give either rate or max_tokens, not both."),
        };
    }

    /// <summary>The request body.</summary>
    public sealed class CompressionRequest
    {
        /// <summary>The text to compress.</summary>
        [JsonPropertyName("prompt")]
        public string? Prompt { get; set; }

        /// <summary>Fraction of tokens to keep, in (0, 1].</summary>
        [JsonPropertyName("rate")]
        public double? Rate { get; set; }

        /// <summary>Token budget, &gt;= 1.</summary>
        [JsonPropertyName("max_tokens")]
        public int? MaxTokens { get; set; }
    }

    /// <summary>The response body.</summary>
    public sealed record CompressionResponse(
        [property: JsonPropertyName("text")] string Text,
        [property: JsonPropertyName("original_tokens")] int OriginalTokens,
        [property: JsonPropertyName("compressed_tokens")] int CompressedTokens,
        [property: JsonPropertyName("ratio")] double Ratio,
        [property: JsonPropertyName("target_met")] bool TargetMet);
}
