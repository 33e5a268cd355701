using System.Text.Json;
using System.Text.Json.Serialization;
using LlmKit.Plugins.Moderation;
using LlmKit.Samples.AspNetApi.OpenAI;
using LlmKit.Samples.AspNetApi.Serving;
using Microsoft.Extensions.Options;

namespace LlmKit.Samples.AspNetApi.Plugins;

/// <summary>
/// <c>POST /v1/moderations</c> in OpenAI's shape, backed by the domain moderation plugin (<see cref="DomainModerator"/>).
/// The categories are the plugin's own: <c>off_domain</c> and <c>injection</c>. A category score is the probability
/// (or rule weight) of the path that decided; a category no path decided on is null.
/// </summary>
/// <remarks>Thread-safe singleton. Checks run through the generation queue, since the model paths use the model.</remarks>
public sealed class ModerationsEndpoint(DomainModerator moderator, GenerationQueue queue, IOptions<ServerOptions> options, IOptions<LlmKit.Hosting.LlmKitOptions> llmKit)
{
    /// <summary>Handles one request.</summary>
    /// <param name="http">The request context.</param>
    public async Task HandleAsync(HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var (ok, texts) = await ApiJson.TryReadAsync(http, options.Value.MaxRequestBodyBytes,
            (ModerationRequest body) => PluginInput.Read(body.Input, options.Value.MaxPluginInputCharacters));
        if (!ok)
        {
            return;
        }

        using var slot = await queue.EnterOrRejectAsync(http);
        if (slot is null)
        {
            return;
        }

        var results = new List<ModerationResultDto>(texts.Count);
        foreach (string text in texts)
        {
            results.Add(ToDto(await moderator.CheckInputAsync(text, http.RequestAborted)));
        }

        string model = "llmkit-moderation/" + (llmKit.Value.ModelId ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(llmKit.Value.ModelPath ?? "model")));
        await http.Response.WriteAsJsonAsync(new ModerationResponse("modr-" + Guid.NewGuid().ToString("N"), model, results), ApiJson.Options, http.RequestAborted);
    }

    private static ModerationResultDto ToDto(ModerationResult result)
    {
        bool injectionPath = result.DecidedBy is ModerationPath.InjectionHeuristics or ModerationPath.InjectionClassifier
            or ModerationPath.Perplexity or ModerationPath.InputValidation;
        bool domainPath = result.DecidedBy is ModerationPath.EmbeddingClassifier or ModerationPath.ConstrainedVerdict
            or ModerationPath.GeneratedVerdict or ModerationPath.Combined;
        return new ModerationResultDto(
            !result.Allowed,
            new Dictionary<string, bool>
            {
                ["off_domain"] = result.Category == ModerationCategory.OffDomain,
                ["injection"] = result.Category == ModerationCategory.Injection,
            },
            new Dictionary<string, double?>
            {
                ["off_domain"] = domainPath ? result.Score : null,
                ["injection"] = injectionPath ? result.Score : null,
            },
            new ModerationDetails(result.Reason, result.DecidedBy.ToString(), result.Score, result.Threshold, result.IsUncertain));
    }

    /// <summary>The request body.</summary>
    public sealed class ModerationRequest
    {
        /// <summary>A string or an array of strings.</summary>
        [JsonPropertyName("input")]
        public JsonElement Input { get; set; }

        /// <summary>Ignored: the server's moderator answers.</summary>
        [JsonPropertyName("model")]
        public string? Model { get; set; }
    }

    /// <summary>The response body.</summary>
    public sealed record ModerationResponse(
        [property: JsonPropertyName("id")] string Id,
        [property: JsonPropertyName("model")] string Model,
        [property: JsonPropertyName("results")] IReadOnlyList<ModerationResultDto> Results);

    /// <summary>One text's result.</summary>
    public sealed record ModerationResultDto(
        [property: JsonPropertyName("flagged")] bool Flagged,
        [property: JsonPropertyName("categories")] IReadOnlyDictionary<string, bool> Categories,
        [property: JsonPropertyName("category_scores")] IReadOnlyDictionary<string, double?> CategoryScores,
        [property: JsonPropertyName("llmkit")] ModerationDetails Details);

    /// <summary>LlmKit's extra detail: why, and which path decided.</summary>
    public sealed record ModerationDetails(
        [property: JsonPropertyName("reason")] string Reason,
        [property: JsonPropertyName("decided_by")] string DecidedBy,
        [property: JsonPropertyName("score")] double Score,
        [property: JsonPropertyName("threshold")] double Threshold,
        [property: JsonPropertyName("uncertain")] bool Uncertain);
}
