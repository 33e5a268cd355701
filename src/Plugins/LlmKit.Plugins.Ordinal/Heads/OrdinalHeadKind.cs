namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>The family of an ordinal head.</summary>
public enum OrdinalHeadKind
{
    /// <summary>CORAL: one shared weight vector and K−1 ordered biases, P(y &gt; k) = σ(w·x + b_k).</summary>
    Coral,

    /// <summary>CORN: K−1 binary tasks on conditional subsets; P(y &gt; k) is the running product of conditional probabilities.</summary>
    Corn,

    /// <summary>Cumulative link (proportional odds): P(y ≤ k) = F(θ_k − w·x) with ordered thresholds θ.</summary>
    CumulativeLink,
}

/// <summary>The link function F of a <see cref="CumulativeLinkHead"/>.</summary>
public enum CumulativeLinkFunction
{
    /// <summary>Logistic CDF (the proportional-odds model).</summary>
    Logit,

    /// <summary>Standard normal CDF (ordered probit).</summary>
    Probit,
}
