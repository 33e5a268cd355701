using System.Text.Json;
using System.Text.Json.Serialization;
using LlmKit.Plugins.Ordinal.Integration;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Plugins;

/// <summary>
/// <c>POST /v1/ratings</c>: rates texts on the ordinal scale of the configured <see cref="OrdinalClassifier"/>
/// (section <c>Ordinal</c>, e.g. a severity or quality head). Body <c>{"input": "..." | ["...", ...]}</c>.
/// </summary>
/// <remarks>Thread-safe singleton. The classifier reads embeddings only, so it does not take a generation slot.</remarks>
public sealed class RatingsEndpoint(OrdinalClassifier classifier, IOptions<ServerOptions> options)
{
    /// <summary>Handles one request.</summary>
    /// <param name="http">The request context.</param>
    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var (ok, texts) = await ApiJson.TryReadAsync(http, options.Value.MaxRequestBodyBytes,
            (RatingRequest body) => PluginInput.Read(body.Input, options.Value.MaxPluginInputCharacters));
        if (!ok)
        {
            return;
        }

        var ratings = await classifier.RateAsync(texts, http.RequestAborted);
        await http.Response.WriteAsJsonAsync(new RatingResponse(classifier.LabelNames, ratings), ApiJson.Options, http.RequestAborted);
    }

    /// <summary>The request body.</summary>
    public sealed class RatingRequest
    {
        /// <summary>A string or an array of strings.</summary>
        [JsonPropertyName("input")]
        public JsonElement Input { get; set; }
    }

    /// <summary>The response body: the scale and one rating per text, in input order.</summary>
    public sealed record RatingResponse(
        [property: JsonPropertyName("labels")] IReadOnlyList<string> Labels,
        [property: JsonPropertyName("data")] IReadOnlyList<OrdinalRating> Data)
    {
        /// <summary>Always <c>list</c>.</summary>
        [JsonPropertyName("object")]
        public string Object => "list";
    }
}
