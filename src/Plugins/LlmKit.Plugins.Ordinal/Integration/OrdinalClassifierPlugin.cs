using System.ComponentModel;
using System.Text.Json;
using Microsoft.SemanticKernel;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>
/// Semantic Kernel plugin over an <see cref="OrdinalClassifier"/>: rates a text on the classifier's scale and
/// returns the label, the class probabilities and the expected rank as JSON. Thread-safe when the classifier is.
/// </summary>
public sealed class OrdinalClassifierPlugin
{
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = false };
    private readonly OrdinalClassifier _classifier;

    /// <summary>Creates the plugin.</summary>
    /// <param name="classifier">The classifier to expose.</param>
    public OrdinalClassifierPlugin(OrdinalClassifier classifier)
    {
        _classifier = classifier ?? throw new ArgumentNullException(nameof(classifier));
    }

    /// <summary>Rates a text; returns JSON {"label", "rank", "expected_rank", "probabilities": [{"label", "probability"}], "exceedance"}.</summary>
    /// <param name="text">The text to rate.</param>
    /// <param name="cancellationToken">Cancels embedding.</param>
    [KernelFunction("rate")]
    [Description("Rates a text on an ordered scale (for example severity or star rating). Returns JSON with the predicted label, its 0-based rank, the expected rank and the probability of every label.")]
    public async Task<string> RateAsync(
        [Description("The text to rate.")] string text,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(text);
        var rating = await _classifier.RateAsync(text, cancellationToken).ConfigureAwait(false);
        return JsonSerializer.Serialize(rating, Json);
    }

    /// <summary>Lists the scale's labels from lowest to highest as a JSON array.</summary>
    [KernelFunction("scale")]
    [Description("Lists the labels of the rating scale from lowest to highest as a JSON array.")]
    public string GetScale() => JsonSerializer.Serialize(_classifier.LabelNames, Json);
}
