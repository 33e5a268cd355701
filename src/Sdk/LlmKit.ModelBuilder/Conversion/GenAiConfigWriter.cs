using System.Text.Json;
using LlmKit.ModelBuilder.HuggingFace;

namespace LlmKit.ModelBuilder;

/// <summary>What genai_config.json describes besides the model shape.</summary>
internal sealed record GenAiConfigOptions(int ContextLength, bool WithPositionIds, bool PastPresentShareBuffer, string ModelFile = "model.onnx");

/// <summary>The decoder fields of <c>genai_config.json</c>, whichever checkpoint format they come from.</summary>
internal sealed record GenAiDecoderFields(
    string ModelType, int HeadSize, int HiddenSize, int Heads, int Layers, int KvHeads, int VocabSize, int BosId, int[] EosIds, int PadId)
{
    /// <summary>A window every layer attends through (written as <c>sliding_window</c>); null for none or a per-layer one.</summary>
    public int? WholeModelWindow { get; init; }

    public static GenAiDecoderFields From(LlamaConfig c) => new(
        "llama", c.HeadSize, c.Dim, c.Heads, c.Layers, c.KvHeads, c.VocabSize, Llama2cTokenizerFile.BosId, [Llama2cTokenizerFile.EosId], Llama2cTokenizerFile.UnknownId);

    public static GenAiDecoderFields From(HfDecoderSpec s) => new(
        s.ModelType, s.HeadDim, s.Hidden, s.Heads, s.Layers, s.KvHeads, s.VocabSize, s.BosTokenId ?? 0, s.EosTokenIds, s.PadTokenId ?? s.EosTokenIds[0])
    {
        // Gemma2's alternating window is left out: its global layers need the whole context.
        WholeModelWindow = s.WholeModelWindow ? s.SlidingWindow : null,
    };
}

/// <summary>Writes <c>genai_config.json</c> in the official onnxruntime-genai schema, with the official builder's field layout.</summary>
internal static class GenAiConfigWriter
{
    public static void Write(string path, GenAiDecoderFields d, GenAiConfigOptions options)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("model");
        json.WriteNumber("bos_token_id", d.BosId);
        json.WriteNumber("context_length", options.ContextLength);
        json.WriteStartObject("decoder");
        json.WriteStartObject("session_options");
        json.WriteString("log_id", "onnxruntime-genai");
        json.WriteStartArray("provider_options");
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteString("filename", options.ModelFile);
        json.WriteNumber("head_size", d.HeadSize);
        json.WriteNumber("hidden_size", d.HiddenSize);
        json.WriteStartObject("inputs");
        json.WriteString("input_ids", "input_ids");
        json.WriteString("attention_mask", "attention_mask");
        if (options.WithPositionIds)
        {
            json.WriteString("position_ids", "position_ids");
        }

        json.WriteString("past_key_names", "past_key_values.%d.key");
        json.WriteString("past_value_names", "past_key_values.%d.value");
        json.WriteEndObject();
        json.WriteStartObject("outputs");
        json.WriteString("logits", "logits");
        json.WriteString("present_key_names", "present.%d.key");
        json.WriteString("present_value_names", "present.%d.value");
        json.WriteEndObject();
        json.WriteNumber("num_attention_heads", d.Heads);
        json.WriteNumber("num_hidden_layers", d.Layers);
        json.WriteNumber("num_key_value_heads", d.KvHeads);
        if (d.WholeModelWindow is { } window)
        {
            // Every layer attends through the window, so a runtime may keep only the last window_size positions.
            json.WriteStartObject("sliding_window");
            json.WriteNumber("window_size", window);
            json.WriteBoolean("slide_key_value_cache", false);
            json.WriteBoolean("slide_inputs", false);
            json.WriteEndObject();
        }

        json.WriteEndObject();
        if (d.EosIds.Length == 1)
        {
            json.WriteNumber("eos_token_id", d.EosIds[0]);
        }
        else
        {
            json.WriteStartArray("eos_token_id");
            foreach (int id in d.EosIds)
            {
                json.WriteNumberValue(id);
            }

            json.WriteEndArray();
        }

        json.WriteNumber("pad_token_id", d.PadId);
        json.WriteString("type", d.ModelType);
        json.WriteNumber("vocab_size", d.VocabSize);
        json.WriteEndObject();

        json.WriteStartObject("search");
        json.WriteBoolean("do_sample", false);
        json.WriteBoolean("early_stopping", true);
        json.WriteNumber("length_penalty", 1.0);
        json.WriteNumber("max_length", options.ContextLength);
        json.WriteNumber("min_length", 0);
        json.WriteNumber("no_repeat_ngram_size", 0);
        json.WriteNumber("num_beams", 1);
        json.WriteNumber("num_return_sequences", 1);
        json.WriteBoolean("past_present_share_buffer", options.PastPresentShareBuffer);
        json.WriteNumber("repetition_penalty", 1.0);
        json.WriteNumber("temperature", 1.0);
        json.WriteNumber("top_k", 1);
        json.WriteNumber("top_p", 1.0);
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
