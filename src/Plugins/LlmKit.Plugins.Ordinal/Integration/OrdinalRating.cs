using System.Text.Json.Serialization;

namespace LlmKit.Plugins.Ordinal.Integration;

/// <summary>The rating of one text on an ordinal scale. Serialises to snake_case JSON.</summary>
public sealed class OrdinalRating
{
    internal OrdinalRating(string label, int rank, double expectedRank, IReadOnlyList<LabelProbability> probabilities, IReadOnlyList<float> exceedance)
    {
        Label = label;
        Rank = rank;
        ExpectedRank = expectedRank;
        Probabilities = probabilities;
        Exceedance = exceedance;
    }

    /// <summary>Name of the predicted rank.</summary>
    [JsonPropertyName("label")]
    public string Label { get; }

    /// <summary>The predicted rank, 0-based.</summary>
    [JsonPropertyName("rank")]
    public int Rank { get; }

    /// <summary>The expected rank E[y] on the 0-based scale (e.g. 2.4 = between the third and fourth rank).</summary>
    [JsonPropertyName("expected_rank")]
    public double ExpectedRank { get; }

    /// <summary>Probability of every rank, lowest first.</summary>
    [JsonPropertyName("probabilities")]
    public IReadOnlyList<LabelProbability> Probabilities { get; }

    /// <summary>P(y &gt; k) for every threshold k.</summary>
    [JsonPropertyName("exceedance")]
    public IReadOnlyList<float> Exceedance { get; }
}

/// <summary>A rank name and its probability.</summary>
/// <param name="Label">The rank name.</param>
/// <param name="Probability">Its probability.</param>
public sealed record LabelProbability(
    [property: JsonPropertyName("label")] string Label,
    [property: JsonPropertyName("probability")] float Probability);
