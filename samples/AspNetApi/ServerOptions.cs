namespace LlmKit.Samples.AspNetApi;

/// <summary>
/// Limits, queueing and access control of the HTTP API, bound from the configuration section <c>"Server"</c>
/// (appsettings.json or environment variables such as <c>Server__MaxConcurrentGenerations=8</c>).
/// Checked when the app starts; each error names the setting and its allowed range.
/// </summary>
public sealed class ServerOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Server";

    /// <summary>
    /// Generations that run at the same time, 1 to 64. Default 8, the model's default batch: overlapping generations
    /// share decode runs (<c>LlmKit:MaxBatchSize</c>), so each run reads the weights once for all of them. With batching
    /// off (<c>LlmKit:MaxBatchSize</c> 1, or a model form that cannot batch) they compete for memory bandwidth instead;
    /// then about one per core is the better setting.
    /// </summary>
    public int MaxConcurrentGenerations { get; set; } = 8;

    /// <summary>Requests that may wait for a generation slot, 0 to 10,000; a request beyond them gets 429. Default 32.</summary>
    public int MaxQueuedRequests { get; set; } = 32;

    /// <summary>Largest request body in bytes, 1 KiB to 64 MiB; a larger body gets 400. Default 1 MiB.</summary>
    public long MaxRequestBodyBytes { get; set; } = 1 << 20;

    /// <summary>Most prompt tokens (after the chat template, counted with the model's tokenizer), &gt;= 1; null allows up to the model's max length minus one.</summary>
    public int? MaxPromptTokens { get; set; }

    /// <summary>Largest <c>max_tokens</c> a request may ask for, and the value used when it asks for none; 1 to 1,000,000. Default 512.</summary>
    public int MaxCompletionTokens { get; set; } = 512;

    /// <summary>Longest text accepted by the plugin endpoints (moderation, rating, compression), in characters; 1 to 16,777,216. Default 100,000.</summary>
    public int MaxPluginInputCharacters { get; set; } = 100_000;

    /// <summary>
    /// The API key clients must send as <c>Authorization: Bearer &lt;key&gt;</c>, at least 16 characters without
    /// white space; null or empty leaves the API open. When set, every endpoint but <c>/health</c> requires it
    /// (<c>/metrics</c> too, unless <see cref="AllowAnonymousMetrics"/>).
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Serves <c>/metrics</c> without the API key (for a scraper on a trusted network). Default false.</summary>
    public bool AllowAnonymousMetrics { get; set; }

    /// <summary>
    /// Web origins (<c>scheme://host[:port]</c>) whose pages may call the API from a browser (CORS), or <c>*</c> for
    /// any page. Default none: no CORS headers are sent.
    /// </summary>
    public IList<string> CorsAllowedOrigins { get; } = [];

    /// <summary>The shortest accepted <see cref="ApiKey"/>.</summary>
    public const int MinApiKeyLength = 16;

    /// <summary>Whether an API key is configured.</summary>
    public bool RequiresApiKey => !string.IsNullOrEmpty(ApiKey);

    /// <summary>Throws when a setting is out of range or malformed.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its range; the message names it.</exception>
    /// <exception cref="ArgumentException">The API key is too short or a CORS origin is malformed; the message names the setting.</exception>
    public void Validate()
    {
        Require(MaxConcurrentGenerations, 1, 64, nameof(MaxConcurrentGenerations));
        Require(MaxQueuedRequests, 0, 10_000, nameof(MaxQueuedRequests));
        if (MaxRequestBodyBytes is < 1024 or > 64L << 20)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRequestBodyBytes), MaxRequestBodyBytes, "Server:MaxRequestBodyBytes must be between 1,024 and 67,108,864.");
        }

        if (MaxPromptTokens is < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxPromptTokens), MaxPromptTokens, "Server:MaxPromptTokens must be >= 1 (or unset for the model's max length minus one).");
        }

        Require(MaxCompletionTokens, 1, 1_000_000, nameof(MaxCompletionTokens));
        Require(MaxPluginInputCharacters, 1, 1 << 24, nameof(MaxPluginInputCharacters));
        if (RequiresApiKey && (ApiKey!.Length < MinApiKeyLength || ApiKey.Any(char.IsWhiteSpace) || ApiKey.Any(char.IsControl)))
        {
            // The key itself never goes into a message or log.
            throw new ArgumentException($"Server:ApiKey must be at least {MinApiKeyLength} characters without white space (e.g. the output of `openssl rand -hex 32`); the configured one has {ApiKey.Length}.", nameof(ApiKey));
        }

        foreach (string origin in CorsAllowedOrigins)
        {
            if (!IsOrigin(origin))
            {
                throw new ArgumentException($"Server:CorsAllowedOrigins holds '{origin}', which is not an origin: use scheme://host[:port] (e.g. https://chat.example.com, no path or trailing slash) or * for any page.", nameof(CorsAllowedOrigins));
            }
        }
    }

    private static bool IsOrigin(string origin) =>
        origin == "*"
        || (Uri.TryCreate(origin, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && string.Equals(uri.GetLeftPart(UriPartial.Authority), origin, StringComparison.OrdinalIgnoreCase));

    private static void Require(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Server:{name} must be between {min:N0} and {max:N0}.");
        }
    }
}
