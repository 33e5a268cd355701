namespace LlmKit.Samples.AspNetApi;

/// <summary>
/// Limits and queueing of the HTTP API, bound from the configuration section <c>"Server"</c>
/// (appsettings.json or environment variables such as <c>Server__MaxConcurrentGenerations=2</c>).
/// Checked when the app starts; each error names the setting and its allowed range.
/// </summary>
public sealed class ServerOptions
{
    /// <summary>The configuration section name.</summary>
    public const string SectionName = "Server";

    /// <summary>Generations that run at the same time, 1 to 64. Default 2 (one per core on a 2-core machine).</summary>
    public int MaxConcurrentGenerations { get; set; } = 2;

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

    /// <summary>Throws when a setting is out of range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A setting is outside its range; the message names it.</exception>
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
    }

    private static void Require(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"Server:{name} must be between {min:N0} and {max:N0}.");
        }
    }
}
