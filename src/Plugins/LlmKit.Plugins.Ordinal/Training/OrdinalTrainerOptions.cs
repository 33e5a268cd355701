using LlmKit.Plugins.Ordinal.Heads;

namespace LlmKit.Plugins.Ordinal.Training;

/// <summary>Settings of <see cref="OrdinalTrainer"/>. Every property has a working default.</summary>
public sealed record OrdinalTrainerOptions
{
    /// <summary>Which head to train. Default <see cref="OrdinalHeadKind.Coral"/>.</summary>
    public OrdinalHeadKind Head { get; init; } = OrdinalHeadKind.Coral;

    /// <summary>Link function when <see cref="Head"/> is <see cref="OrdinalHeadKind.CumulativeLink"/>. Default logit.</summary>
    public CumulativeLinkFunction Link { get; init; } = CumulativeLinkFunction.Logit;

    /// <summary>Units of an optional ReLU hidden layer in front of the head; 0 (default) for a linear head. Allowed 0 to 4096.</summary>
    public int HiddenUnits { get; init; }

    /// <summary>Maximum passes over the training rows. Default 100; allowed 1 to 100,000.</summary>
    public int Epochs { get; init; } = 100;

    /// <summary>Rows per Adam step. Default 32; allowed 1 to 1,000,000.</summary>
    public int BatchSize { get; init; } = 32;

    /// <summary>Adam step size. Default 0.01; allowed (0, 10].</summary>
    public float LearningRate { get; init; } = 0.01f;

    /// <summary>Adam first-moment decay β1. Default 0.9; allowed [0, 1).</summary>
    public float Beta1 { get; init; } = 0.9f;

    /// <summary>Adam second-moment decay β2. Default 0.999; allowed [0, 1).</summary>
    public float Beta2 { get; init; } = 0.999f;

    /// <summary>L2 penalty (λ/2)·‖W‖² on weights (not on biases or thresholds). Default 1e-4; allowed [0, 100].</summary>
    public float L2 { get; init; } = 1e-4f;

    /// <summary>Fraction of rows held out for early stopping. Default 0.1; 0 turns early stopping off; allowed [0, 0.9].</summary>
    public float ValidationFraction { get; init; } = 0.1f;

    /// <summary>Epochs without a better validation loss before training stops. Default 10; allowed 1 to 100,000.</summary>
    public int Patience { get; init; } = 10;

    /// <summary>Standardise features with statistics of the training rows (stored with the model). Default true.</summary>
    public bool Standardize { get; init; } = true;

    /// <summary>Seed for the split, the shuffles and the initial weights: the same seed and data give bit-identical models. Default 0.</summary>
    public int Seed { get; init; }

    /// <summary>
    /// Optional importance weight per rank (K values, every rank including the lowest, each ≥ 0 and finite), applied
    /// to every example of that rank in every head's loss. Only ratios matter: weights are rescaled to average 1 over
    /// the training rows. See <see cref="ImportanceWeights.BalancedClassWeights"/>.
    /// </summary>
    public IReadOnlyList<float>? ClassWeights { get; init; }

    /// <summary>
    /// Optional importance weight per threshold task (K−1 values, each ≥ 0 and finite) for CORAL and CORN, as in the
    /// CORAL paper's λ_k. Not defined for the cumulative-link likelihood (rejected there). See
    /// <see cref="ImportanceWeights.ThresholdWeightsFromClassWeights"/>.
    /// </summary>
    public IReadOnlyList<float>? ThresholdWeights { get; init; }

    internal void Validate(int rankCount)
    {
        if (!Enum.IsDefined(Head))
        {
            throw new ArgumentOutOfRangeException(nameof(Head), Head, "Head must be Coral, Corn or CumulativeLink.");
        }

        if (!Enum.IsDefined(Link))
        {
            throw new ArgumentOutOfRangeException(nameof(Link), Link, "Link must be Logit or Probit.");
        }

        Range(nameof(HiddenUnits), HiddenUnits, 0, HiddenLayer.MaxUnits);
        Range(nameof(Epochs), Epochs, 1, 100_000);
        Range(nameof(BatchSize), BatchSize, 1, 1_000_000);
        Range(nameof(Patience), Patience, 1, 100_000);
        if (!(LearningRate > 0f && LearningRate <= 10f))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be in (0, 10].");
        }

        if (!(Beta1 >= 0f && Beta1 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta1), Beta1, "Beta1 must be in [0, 1).");
        }

        if (!(Beta2 >= 0f && Beta2 < 1f))
        {
            throw new ArgumentOutOfRangeException(nameof(Beta2), Beta2, "Beta2 must be in [0, 1).");
        }

        if (!(L2 >= 0f && L2 <= 100f))
        {
            throw new ArgumentOutOfRangeException(nameof(L2), L2, "L2 must be in [0, 100].");
        }

        if (!(ValidationFraction >= 0f && ValidationFraction <= 0.9f))
        {
            throw new ArgumentOutOfRangeException(nameof(ValidationFraction), ValidationFraction, "ValidationFraction must be in [0, 0.9].");
        }

        if (ClassWeights is not null)
        {
            ImportanceWeights.ValidateWeights(ClassWeights, rankCount, nameof(ClassWeights));
            if (ClassWeights.Count != rankCount)
            {
                throw new ArgumentException($"ClassWeights needs one weight per rank: {rankCount} expected, {ClassWeights.Count} given.", nameof(ClassWeights));
            }
        }

        if (ThresholdWeights is not null)
        {
            if (Head == OrdinalHeadKind.CumulativeLink)
            {
                throw new ArgumentException("ThresholdWeights apply to CORAL and CORN only; weight a cumulative-link head with ClassWeights.", nameof(ThresholdWeights));
            }

            ImportanceWeights.ValidateWeights(ThresholdWeights, rankCount - 1, nameof(ThresholdWeights));
            if (ThresholdWeights.Count != rankCount - 1)
            {
                throw new ArgumentException($"ThresholdWeights needs one weight per threshold: {rankCount - 1} expected, {ThresholdWeights.Count} given.", nameof(ThresholdWeights));
            }
        }
    }

    private static void Range(string name, int value, int min, int max)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"{name} must be between {min} and {max}.");
        }
    }
}
