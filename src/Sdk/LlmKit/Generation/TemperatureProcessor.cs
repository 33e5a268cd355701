using System.Numerics.Tensors;

namespace LlmKit.Generation;

/// <summary>Divides logits by the temperature (&gt; 0): below 1 sharpens, above 1 flattens the distribution.</summary>
public sealed class TemperatureProcessor : ILogitsProcessor
{
    private readonly float _temperature;

    /// <summary>Creates the processor.</summary>
    public TemperatureProcessor(float temperature)
    {
        if (!(temperature > 0 && float.IsFinite(temperature)))
        {
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be a finite number > 0 (use greedy decoding for 0).");
        }

        _temperature = temperature;
    }

    /// <inheritdoc />
    public void Process(Span<float> logits, TokenHistory history) => TensorPrimitives.Divide(logits, _temperature, logits);
}
