namespace LlmKit.Plugins.FewShot.Evaluation;

/// <summary>A reproducible train/test split of labelled examples (pool = train, queries = test).</summary>
/// <param name="Train">The pool examples are selected from.</param>
/// <param name="Test">The held-out queries.</param>
public sealed record ExampleSplit(IReadOnlyList<FewShotExample> Train, IReadOnlyList<FewShotExample> Test)
{
    /// <summary>Shuffles with <paramref name="seed"/> (Fisher–Yates over <see cref="Random"/>(seed)) and cuts at <paramref name="trainFraction"/>.</summary>
    /// <param name="examples">All examples.</param>
    /// <param name="trainFraction">Share that goes to <see cref="Train"/>, strictly between 0 and 1 (e.g. 0.8).</param>
    /// <param name="seed">Seed of the shuffle; the same seed gives the same split.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="trainFraction"/> is not strictly between 0 and 1.</exception>
    public static ExampleSplit Create(IReadOnlyList<FewShotExample> examples, double trainFraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (!(trainFraction is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(trainFraction), trainFraction, "trainFraction must be strictly between 0 and 1.");
        }

        var shuffled = examples.ToArray();
        var random = new Random(seed);
        for (int i = shuffled.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (shuffled[i], shuffled[j]) = (shuffled[j], shuffled[i]);
        }

        int cut = (int)Math.Round(shuffled.Length * trainFraction);
        return new ExampleSplit(shuffled[..cut], shuffled[cut..]);
    }
}
