using System.Numerics.Tensors;

namespace LlmKit.Plugins.Ordinal.Heads;

/// <summary>
/// An optional fully connected ReLU layer in front of a head: h = max(0, W·x + b). It turns the linear
/// head into a one-hidden-layer MLP, which helps when the rank is not monotone in a single direction of the input.
/// </summary>
/// <remarks>Immutable after construction; thread-safe.</remarks>
public sealed class HiddenLayer
{
    /// <summary>Largest number of hidden units accepted.</summary>
    public const int MaxUnits = 4096;

    /// <summary>Creates a layer from its weights (row-major, <paramref name="biases"/>.Length rows × input columns) and biases.</summary>
    /// <param name="inputDimension">Length of the input vectors (at least 1).</param>
    /// <param name="weights">Units × inputDimension weights, row-major; copied.</param>
    /// <param name="biases">One bias per unit (1 to <see cref="MaxUnits"/> units); copied.</param>
    /// <exception cref="ArgumentException">A length does not match or a value is not finite.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is outside its allowed range.</exception>
    public HiddenLayer(int inputDimension, ReadOnlySpan<float> weights, ReadOnlySpan<float> biases)
        : this(inputDimension, biases.Length, weights.ToArray(), biases.ToArray())
    {
        FeatureGuard.ThrowIfNotFinite(weights, nameof(weights));
        FeatureGuard.ThrowIfNotFinite(biases, nameof(biases));
    }

    internal HiddenLayer(int inputDimension, int units, float[] weights, float[] biases)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(inputDimension, 1);
        if (units is < 1 or > MaxUnits)
        {
            throw new ArgumentOutOfRangeException(nameof(units), units, $"A hidden layer needs 1 to {MaxUnits} units.");
        }

        FeatureGuard.ThrowIfLengthMismatch(units * inputDimension, weights.Length, nameof(weights), "weights (units × input dimension)");
        FeatureGuard.ThrowIfLengthMismatch(units, biases.Length, nameof(biases), "biases");
        InputDimension = inputDimension;
        Units = units;
        WeightArray = weights;
        BiasArray = biases;
    }

    /// <summary>Length of the input vectors.</summary>
    public int InputDimension { get; }

    /// <summary>Number of hidden units (the length of the layer's output).</summary>
    public int Units { get; }

    /// <summary>Weights, row-major (<see cref="Units"/> rows × <see cref="InputDimension"/> columns).</summary>
    public ReadOnlySpan<float> Weights => WeightArray;

    /// <summary>One bias per unit.</summary>
    public ReadOnlySpan<float> Biases => BiasArray;

    internal float[] WeightArray { get; }

    internal float[] BiasArray { get; }

    /// <summary>Writes the ReLU activations for <paramref name="input"/> into <paramref name="output"/>.</summary>
    internal void Forward(ReadOnlySpan<float> input, Span<float> output)
    {
        var weights = WeightArray.AsSpan();
        for (int u = 0; u < Units; u++)
        {
            float pre = TensorPrimitives.Dot(weights.Slice(u * InputDimension, InputDimension), input) + BiasArray[u];
            output[u] = pre > 0f ? pre : 0f;
        }
    }
}
