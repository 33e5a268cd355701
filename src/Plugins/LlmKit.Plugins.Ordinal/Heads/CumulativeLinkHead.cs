namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>
/// Cumulative-link (proportional-odds) model: P(y ≤ k) = F(θ_k − w·x), so P(y &gt; k) = F(w·x − θ_k), with a
/// logistic (<see cref="CumulativeLinkFunction.Logit"/>) or normal (<see cref="CumulativeLinkFunction.Probit"/>) F.
/// Trained by maximum likelihood of the class probabilities F(θ_y − w·x) − F(θ_{y−1} − w·x).
/// </summary>
/// <remarks>
/// The thresholds are ordered by construction: they are stored as θ_0 and the softplus-inverse of the gaps,
/// θ_k = θ_{k−1} + softplus(a_k), so no optimiser step can cross them. Immutable and thread-safe.
/// </remarks>
public sealed class CumulativeLinkHead : OrdinalHead
{
    // Smallest gap used when initialising or importing thresholds, so the softplus inverse stays finite.
    private const double MinimumGap = 1e-6;

    /// <summary>Creates a cumulative-link head from weights and strictly increasing thresholds.</summary>
    /// <param name="weights">The weight vector w (length = input dimension, or hidden units with a hidden layer); copied.</param>
    /// <param name="thresholds">K−1 strictly increasing thresholds θ (1 to 255 values).</param>
    /// <param name="link">The link function F.</param>
    /// <param name="hidden">Optional hidden layer in front of the head.</param>
    /// <exception cref="ArgumentException">A length does not match, a value is not finite, or the thresholds do not increase.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="link"/> is not a defined value.</exception>
    public CumulativeLinkHead(ReadOnlySpan<float> weights, ReadOnlySpan<float> thresholds, CumulativeLinkFunction link, HiddenLayer? hidden = null)
        : base(thresholds.Length + 1, hidden?.InputDimension ?? weights.Length, 1, weights.ToArray(), new float[thresholds.Length], hidden)
    {
        FeatureGuard.ThrowIfNotFinite(weights, nameof(weights));
        FeatureGuard.ThrowIfNotFinite(thresholds, nameof(thresholds));
        Link = ValidateLink(link);
        for (int k = 1; k < thresholds.Length; k++)
        {
            if (!(thresholds[k] > thresholds[k - 1]))
            {
                throw new ArgumentException(
                    $"Thresholds must increase strictly, but threshold[{k}] = {thresholds[k]} <= threshold[{k - 1}] = {thresholds[k - 1]}.",
                    nameof(thresholds));
            }
        }

        ThresholdParameters[0] = thresholds[0];
        for (int k = 1; k < thresholds.Length; k++)
        {
            ThresholdParameters[k] = (float)LinkMath.InverseSoftplus(Math.Max((double)thresholds[k] - thresholds[k - 1], MinimumGap));
        }
    }

    /// <summary>Creates a head from its raw parameters (θ_0 then softplus-inverse gaps), as stored by the serializer and trainer.</summary>
    internal CumulativeLinkHead(float[] weights, float[] rawThresholds, CumulativeLinkFunction link, int inputDimension, HiddenLayer? hidden)
        : base(rawThresholds.Length + 1, inputDimension, 1, weights, rawThresholds, hidden)
    {
        Link = ValidateLink(link);
    }

    internal CumulativeLinkHead(int rankCount, int inputDimension, CumulativeLinkFunction link, HiddenLayer? hidden)
        : this(new float[hidden?.Units ?? inputDimension], new float[rankCount - 1], link, inputDimension, hidden)
    {
    }

    /// <inheritdoc />
    public override OrdinalHeadKind Kind => OrdinalHeadKind.CumulativeLink;

    /// <summary>The link function F.</summary>
    public CumulativeLinkFunction Link { get; }

    /// <summary>The weight vector w.</summary>
    public ReadOnlySpan<float> Weights => ScoreWeights;

    /// <summary>The K−1 thresholds θ, strictly increasing (computed from the stored parameters; a new array each call).</summary>
    public float[] GetThresholds()
    {
        Span<double> thresholds = stackalloc double[ThresholdParameters.Length];
        ComputeThresholds(thresholds);
        var result = new float[thresholds.Length];
        for (int k = 0; k < result.Length; k++)
        {
            result[k] = (float)thresholds[k];
        }

        return result;
    }

    internal override bool SupportsThresholdWeights => false;

    internal override void ExceedanceFromScores(ReadOnlySpan<float> scores, Span<float> exceedance)
    {
        Span<double> thresholds = stackalloc double[ThresholdParameters.Length];
        ComputeThresholds(thresholds);
        double eta = scores[0];
        for (int k = 0; k < exceedance.Length; k++)
        {
            exceedance[k] = (float)Cdf(eta - thresholds[k]);
        }
    }

    internal override double AccumulateGradient(
        ReadOnlySpan<float> scores, int label, float exampleWeight, ReadOnlySpan<float> thresholdWeights,
        Span<float> scoreGradient, Span<float> thresholdGradient)
    {
        int last = ThresholdParameters.Length; // = K − 1
        Span<double> thresholds = stackalloc double[last];
        ComputeThresholds(thresholds);
        double eta = scores[0];
        bool hasUpper = label < last;
        bool hasLower = label > 0;
        double upper = hasUpper ? thresholds[label] - eta : double.PositiveInfinity;
        double lower = hasLower ? thresholds[label - 1] - eta : double.NegativeInfinity;

        // P(y = label) = F(upper) − F(lower); in the upper tail use 1 − F to avoid cancellation.
        double probability = lower > 0
            ? Cdf(-lower) - (hasUpper ? Cdf(-upper) : 0.0)
            : (hasUpper ? Cdf(upper) : 1.0) - (hasLower ? Cdf(lower) : 0.0);
        probability = Math.Max(probability, 1e-15);
        double densityUpper = hasUpper ? Pdf(upper) : 0.0;
        double densityLower = hasLower ? Pdf(lower) : 0.0;

        double w = exampleWeight;
        scoreGradient[0] += (float)(w * (densityUpper - densityLower) / probability);
        double gradUpper = hasUpper ? -w * densityUpper / probability : 0.0;   // dL/dθ_label
        double gradLower = hasLower ? w * densityLower / probability : 0.0;    // dL/dθ_(label−1)

        // Chain rule through θ_j = a_0 + Σ_{i=1..j} softplus(a_i): dL/da_i = σ(a_i) · Σ_{j ≥ i} dL/dθ_j.
        thresholdGradient[0] += (float)(gradUpper + gradLower);
        for (int i = 1; i < last; i++)
        {
            double tail = (i <= label ? gradUpper : 0.0) + (i <= label - 1 ? gradLower : 0.0);
            if (tail != 0.0)
            {
                thresholdGradient[i] += (float)(LinkMath.Sigmoid(ThresholdParameters[i]) * tail);
            }
        }

        return -w * Math.Log(probability);
    }

    internal override void InitializeThresholds(ReadOnlySpan<double> rankFrequencies)
    {
        double previous = double.NegativeInfinity;
        for (int k = 0; k < ThresholdParameters.Length; k++)
        {
            double atMost = 1.0 - SmoothedExceedance(rankFrequencies, k);
            double theta = Link == CumulativeLinkFunction.Logit ? LinkMath.Logit(atMost) : LinkMath.NormalQuantile(atMost);
            if (k == 0)
            {
                ThresholdParameters[0] = (float)theta;
                previous = theta;
                continue;
            }

            double gap = Math.Max(theta - previous, 1e-2);
            ThresholdParameters[k] = (float)LinkMath.InverseSoftplus(gap);
            previous += gap;
        }
    }

    internal void ComputeThresholds(Span<double> thresholds)
    {
        double theta = ThresholdParameters[0];
        thresholds[0] = theta;
        for (int k = 1; k < thresholds.Length; k++)
        {
            theta += LinkMath.Softplus(ThresholdParameters[k]);
            thresholds[k] = theta;
        }
    }

    private double Cdf(double x) => Link == CumulativeLinkFunction.Logit ? LinkMath.Sigmoid(x) : LinkMath.NormalCdf(x);

    private double Pdf(double x)
    {
        if (Link == CumulativeLinkFunction.Probit)
        {
            return LinkMath.NormalPdf(x);
        }

        double s = LinkMath.Sigmoid(x);
        return s * (1.0 - s);
    }

    private static CumulativeLinkFunction ValidateLink(CumulativeLinkFunction link) =>
        Enum.IsDefined(link) ? link : throw new ArgumentOutOfRangeException(nameof(link), link, "Link must be Logit or Probit.");
}
