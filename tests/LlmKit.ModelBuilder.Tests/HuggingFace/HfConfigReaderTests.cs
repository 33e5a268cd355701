using System.Text.Json;
using System.Text.Json.Nodes;
using LlmKit.ModelBuilder.HuggingFace;

namespace LlmKit.ModelBuilder.Tests.HuggingFace;

/// <summary>config.json is read as Hugging Face writes it, and what the builder cannot reproduce is refused by name.</summary>
public sealed class HfConfigReaderTests
{
    [Fact]
    public void Gemma2_quirks_are_read_from_their_fields()
    {
        var spec = Read("gemma2");
        Assert.Equal("gemma2", spec.ModelType);
        Assert.Equal(1f / MathF.Sqrt(24f), spec.AttentionScale);
        Assert.Equal(2f, spec.AttentionSoftcap);
        Assert.Equal(5f, spec.FinalLogitSoftcap);
        Assert.Equal(8, spec.SlidingWindow);
        Assert.True(spec.IsSlidingLayer(0) && !spec.IsSlidingLayer(1) && spec.IsSlidingLayer(2));
        Assert.False(spec.WholeModelWindow);
        Assert.Equal(16, spec.HeadDim);
        Assert.Equal(MathF.Sqrt(48f), spec.EmbeddingScale);
        Assert.Equal(1f, spec.NormWeightOffset);
        Assert.Equal(GatedActivation.GeluTanh, spec.Activation);
    }

    [Fact]
    public void Qwen2_has_biases_and_ignores_its_unused_sliding_window()
    {
        var spec = Read("qwen2");
        Assert.True(spec.QkvBias);
        Assert.Null(spec.SlidingWindow);
        Assert.True(spec.TiedEmbeddings);
    }

    [Theory]
    [InlineData("partial_rotary_factor", "0.5", "partial_rotary_factor")]
    [InlineData("mlp_bias", "true", "mlp_bias")]
    [InlineData("attention_bias", "true", "attention_bias")]
    [InlineData("hidden_act", "\"gelu\"", "hidden_act")]
    public void Fields_that_change_the_math_are_refused_by_name(string field, string json, string named)
    {
        var ex = Assert.Throws<NotSupportedException>(() => Parse("llama", c => c[field] = JsonNode.Parse(json)));
        Assert.Contains(named, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("llama-rope-linear", RopeScalingType.Linear)]
    [InlineData("llama3-rope-llama3", RopeScalingType.Llama3)]
    [InlineData("qwen2-rope-yarn", RopeScalingType.Yarn)]
    public void Rope_scaling_is_read_and_changes_the_frequencies(string name, RopeScalingType type)
    {
        var spec = Read(name);
        Assert.Equal(type, spec.RopeScaling?.Type);
        var scaled = spec.RopeFrequenciesFor(spec.MaxPositions);
        float[] plain = RopeScaling.Unscaled(spec.HeadDim, spec.RopeTheta);

        // Every type divides at least the lowest frequency (the longest wavelength) by its factor.
        Assert.True(scaled.Inverse[^1] < plain[^1] * 0.9f, $"{name}: lowest inverse frequency {scaled.Inverse[^1]} vs unscaled {plain[^1]}");
    }

    [Fact]
    public void Qwen2s_per_layer_sliding_window_is_refused()
    {
        var ex = Assert.Throws<NotSupportedException>(() => Parse("qwen2", c => c["use_sliding_window"] = true));
        Assert.Contains("use_sliding_window", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_architecture_is_refused_listing_the_supported_ones()
    {
        var ex = Assert.Throws<NotSupportedException>(() => Parse("llama", c => c["architectures"] = new JsonArray("FalconForCausalLM")));
        foreach (string supported in HfConverter.SupportedArchitectures)
        {
            Assert.Contains(supported, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_missing_required_field_is_named()
    {
        var ex = Assert.Throws<InvalidDataException>(() => Parse("llama", c => c.Remove("hidden_size")));
        Assert.Contains("hidden_size", ex.Message, StringComparison.Ordinal);
    }

    private static HfDecoderSpec Read(string name) => HfConfigReader.Read(HfCases.Checkpoint(name));

    private static HfDecoderSpec Parse(string name, Action<JsonObject> edit)
    {
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(HfCases.Checkpoint(name), "config.json")))!.AsObject();
        edit(config);
        using var doc = JsonDocument.Parse(config.ToJsonString());
        return HfConfigReader.Parse(doc.RootElement, "config.json");
    }
}
