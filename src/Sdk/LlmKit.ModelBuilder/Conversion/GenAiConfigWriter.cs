using System.Text.Json;

namespace LlmKit.ModelBuilder;

/// <summary>What genai_config.json describes besides the model shape.</summary>
internal sealed record GenAiConfigOptions(int ContextLength, bool WithPositionIds, bool PastPresentShareBuffer, string ModelFile = "model.onnx");

/// <summary>Writes <c>genai_config.json</c> in the official onnxruntime-genai schema.</summary>
internal static class GenAiConfigWriter
{
    public static void Write(string path, LlamaConfig c, GenAiConfigOptions options)
    {
        using var stream = new FileStream(path, FileMode.CreateNew, FileAccess.Write);
        using var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true });
        json.WriteStartObject();
        json.WriteStartObject("model");
        json.WriteNumber("bos_token_id", Llama2cTokenizerFile.BosId);
        json.WriteNumber("context_length", options.ContextLength);
        json.WriteStartObject("decoder");
        json.WriteStartObject("session_options");
        json.WriteString("log_id", "onnxruntime-genai");
        json.WriteStartArray("provider_options");
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteString("filename", options.ModelFile);
        json.WriteNumber("head_size", c.HeadSize);
        json.WriteNumber("hidden_size", c.Dim);
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
        json.WriteNumber("num_attention_heads", c.Heads);
        json.WriteNumber("num_hidden_layers", c.Layers);
        json.WriteNumber("num_key_value_heads", c.KvHeads);
        json.WriteEndObject();
        json.WriteNumber("eos_token_id", Llama2cTokenizerFile.EosId);
        json.WriteNumber("pad_token_id", Llama2cTokenizerFile.UnknownId);
        json.WriteString("type", "llama");
        json.WriteNumber("vocab_size", c.VocabSize);
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
